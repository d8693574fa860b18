//! Unit tests of the token codec: pinned validation, the attack set, keys, JWKS and rotation.

use std::collections::HashSet;
use std::sync::OnceLock;

use chrono::TimeZone;
use jsonwebtoken::EncodingKey;
use secrecy::ExposeSecret;
use serde_json::json;

use super::*;

fn key_a() -> JwtSigningKey {
    static KEY: OnceLock<JwtSigningKey> = OnceLock::new();
    KEY.get_or_init(|| JwtSigningKey::generate_ephemeral().unwrap())
        .clone()
}

fn key_b() -> JwtSigningKey {
    static KEY: OnceLock<JwtSigningKey> = OnceLock::new();
    KEY.get_or_init(|| JwtSigningKey::generate_ephemeral().unwrap())
        .clone()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn config() -> TokenConfig {
    TokenConfig::new("https://payymo.example")
}

fn codec() -> RsaTokenCodec {
    RsaTokenCodec::new(config(), JwtKeyRing::new(key_a())).unwrap()
}

fn subject() -> TokenSubject {
    TokenSubject {
        user: UserId::from_uuid(Uuid::from_u128(1)),
        tenant: Some(TenantId::from_uuid(Uuid::from_u128(2))),
        role: "financial_admin".to_owned(),
        session: SessionId::from_uuid(Uuid::from_u128(3)),
    }
}

fn issue(codec: &RsaTokenCodec, kind: TokenKind) -> String {
    codec
        .issue(kind, &subject(), Uuid::from_u128(4), now())
        .unwrap()
        .token
        .expose_secret()
        .to_owned()
}

/// Claims as a JSON object, valid for an access token at `now()`, to be altered by a test.
fn claims_json() -> serde_json::Value {
    let now = now().timestamp();
    json!({
        "iss": "https://payymo.example",
        "aud": "payymo-api",
        "jti": Uuid::from_u128(4),
        "sub": Uuid::from_u128(1),
        "exp": now + 900,
        "nbf": now,
        "iat": now,
        "tenant": Uuid::from_u128(2),
        "role": "financial_admin",
        "sid": Uuid::from_u128(3),
    })
}

/// Signs arbitrary claims with `key`, RS256, under the key's kid.
fn sign(key: &JwtSigningKey, claims: &serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid().to_owned());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

fn b64(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn verify_access(token: &str) -> Result<TokenClaims, TokenError> {
    codec().verify(TokenKind::Access, token, now())
}

// ----- pinned configuration ------------------------------------------------------------------

#[test]
fn the_validation_configuration_is_pinned() {
    for (kind, audience) in [
        (TokenKind::Access, "payymo-api"),
        (TokenKind::Refresh, "payymo-refresh"),
    ] {
        let v = RsaTokenCodec::validation(&config(), kind);
        assert_eq!(v.algorithms, vec![Algorithm::RS256]);
        assert_eq!(
            v.required_spec_claims,
            ["exp", "nbf", "aud", "iss", "sub"]
                .into_iter()
                .map(str::to_owned)
                .collect::<HashSet<_>>()
        );
        assert_eq!(
            v.iss,
            Some(HashSet::from(["https://payymo.example".to_owned()]))
        );
        assert_eq!(v.aud, Some(HashSet::from([audience.to_owned()])));
        assert!(v.validate_aud);
        assert!(v.leeway <= MAX_LEEWAY_SECONDS);
        assert_eq!(v.leeway, 5);
        assert_eq!(v.sub, None);
        // The library's clock checks are off because `check_times` does them against the
        // injected `now` (see the expiry and nbf tests below).
        assert!(!v.validate_exp);
        assert!(!v.validate_nbf);
    }
    let defaults = config();
    assert_eq!(defaults.access_ttl, Duration::minutes(15));
    assert_eq!(defaults.refresh_ttl, Duration::days(7));
    assert_eq!(defaults.leeway, Duration::seconds(5));
    assert_eq!(MAX_LEEWAY_SECONDS, 5);
}

#[test]
fn an_unsafe_configuration_is_refused() {
    let ring = || JwtKeyRing::new(key_a());
    let mut c = config();
    c.leeway = Duration::seconds(6);
    assert!(matches!(
        RsaTokenCodec::new(c, ring()),
        Err(JwtKeyError::InvalidConfig(_))
    ));
    let mut c = config();
    c.refresh_audience = c.access_audience.clone();
    assert!(matches!(
        RsaTokenCodec::new(c, ring()),
        Err(JwtKeyError::InvalidConfig(_))
    ));
    let mut c = config();
    c.issuer = String::new();
    assert!(matches!(
        RsaTokenCodec::new(c, ring()),
        Err(JwtKeyError::InvalidConfig(_))
    ));
    let mut c = config();
    c.access_ttl = Duration::zero();
    assert!(matches!(
        RsaTokenCodec::new(c, ring()),
        Err(JwtKeyError::InvalidConfig(_))
    ));
}

// ----- the happy path ---------------------------------------------------------------------------

#[test]
fn an_issued_access_token_verifies_with_every_claim() {
    let codec = codec();
    let issued = codec
        .issue(TokenKind::Access, &subject(), Uuid::from_u128(4), now())
        .unwrap();
    assert_eq!(issued.expires_in(now()), 900);
    let claims = codec
        .verify(TokenKind::Access, issued.token.expose_secret(), now())
        .unwrap();
    assert_eq!(claims, issued.claims);
    assert_eq!(claims.kind, TokenKind::Access);
    assert_eq!(claims.issuer, "https://payymo.example");
    assert_eq!(claims.audience, "payymo-api");
    assert_eq!(claims.token_id, Uuid::from_u128(4));
    assert_eq!(claims.subject, subject());
    assert_eq!(claims.issued_at, now());
    assert_eq!(claims.not_before, now());
    assert_eq!(claims.expires_at, now() + Duration::minutes(15));
}

#[test]
fn the_token_header_names_rs256_and_the_signing_kid() {
    let token = issue(&codec(), TokenKind::Access);
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some(key_a().kid()));
}

#[test]
fn a_refresh_token_lives_seven_days_with_its_own_audience() {
    let codec = codec();
    let issued = codec
        .issue(TokenKind::Refresh, &subject(), Uuid::from_u128(9), now())
        .unwrap();
    assert_eq!(issued.claims.audience, "payymo-refresh");
    assert_eq!(issued.claims.expires_at, now() + Duration::days(7));
    let later = now() + Duration::days(6);
    assert!(
        codec
            .verify(TokenKind::Refresh, issued.token.expose_secret(), later)
            .is_ok()
    );
    assert_eq!(codec.lifetime(TokenKind::Refresh), Duration::days(7));
    assert_eq!(codec.lifetime(TokenKind::Access), Duration::minutes(15));
}

#[test]
fn a_platform_token_without_tenant_round_trips_as_null() {
    let codec = codec();
    let mut platform = subject();
    platform.tenant = None;
    platform.role = "system_admin".to_owned();
    let issued = codec
        .issue(TokenKind::Access, &platform, Uuid::from_u128(5), now())
        .unwrap();
    let claims = codec
        .verify(TokenKind::Access, issued.token.expose_secret(), now())
        .unwrap();
    assert_eq!(claims.subject, platform);
}

// ----- the attack set ------------------------------------------------------------------------------

#[test]
fn a_token_with_alg_none_is_rejected() {
    let header = json!({"alg": "none", "typ": "JWT", "kid": key_a().kid()});
    let token = format!("{}.{}.", b64(&header), b64(&claims_json()));
    assert_eq!(verify_access(&token), Err(TokenError::AlgorithmNotAllowed));
    // Also with the casing tricks some libraries fell for.
    let header = json!({"alg": "None", "kid": key_a().kid()});
    let token = format!("{}.{}.", b64(&header), b64(&claims_json()));
    assert_eq!(verify_access(&token), Err(TokenError::AlgorithmNotAllowed));
}

#[test]
fn a_token_signed_with_hs256_using_the_public_key_as_secret_is_rejected() {
    let public_pem = key_a().verification_key().to_spki_pem().unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key_a().kid().to_owned());
    let token = jsonwebtoken::encode(
        &header,
        &claims_json(),
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();
    assert_eq!(verify_access(&token), Err(TokenError::AlgorithmNotAllowed));
}

#[test]
fn a_token_with_another_asymmetric_algorithm_is_rejected() {
    let header = json!({"alg": "PS256", "kid": key_a().kid()});
    let token = format!("{}.{}.c2ln", b64(&header), b64(&claims_json()));
    assert_eq!(verify_access(&token), Err(TokenError::AlgorithmNotAllowed));
}

#[test]
fn a_token_with_an_unknown_or_missing_kid_is_rejected() {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("someone-elses-key".to_owned());
    let token = jsonwebtoken::encode(&header, &claims_json(), &key_a().encoding).unwrap();
    assert_eq!(verify_access(&token), Err(TokenError::UnknownKey));

    let header = Header::new(Algorithm::RS256);
    let token = jsonwebtoken::encode(&header, &claims_json(), &key_a().encoding).unwrap();
    assert_eq!(verify_access(&token), Err(TokenError::UnknownKey));
}

#[test]
fn an_expired_token_is_rejected_beyond_the_leeway_only() {
    let codec = codec();
    let token = issue(&codec, TokenKind::Access);
    let expiry = now() + Duration::minutes(15);
    assert!(
        codec
            .verify(TokenKind::Access, &token, expiry + Duration::seconds(4))
            .is_ok()
    );
    assert_eq!(
        codec.verify(TokenKind::Access, &token, expiry + Duration::seconds(5)),
        Err(TokenError::Expired)
    );
    assert_eq!(
        codec.verify(TokenKind::Access, &token, expiry + Duration::days(1)),
        Err(TokenError::Expired)
    );
}

#[test]
fn a_token_whose_nbf_is_in_the_future_is_rejected() {
    let mut claims = claims_json();
    claims["nbf"] = json!(now().timestamp() + 60);
    let token = sign(&key_a(), &claims);
    assert_eq!(verify_access(&token), Err(TokenError::NotYetValid));
    // Within the leeway it passes.
    claims["nbf"] = json!(now().timestamp() + 5);
    assert!(verify_access(&sign(&key_a(), &claims)).is_ok());
}

#[test]
fn a_token_issued_in_the_future_is_rejected() {
    let mut claims = claims_json();
    claims["iat"] = json!(now().timestamp() + 60);
    assert_eq!(
        verify_access(&sign(&key_a(), &claims)),
        Err(TokenError::IssuedInFuture)
    );
}

#[test]
fn a_token_used_before_it_was_issued_is_rejected() {
    let codec = codec();
    let token = issue(&codec, TokenKind::Access);
    assert_eq!(
        codec.verify(TokenKind::Access, &token, now() - Duration::seconds(6)),
        Err(TokenError::NotYetValid)
    );
}

#[test]
fn a_token_of_another_issuer_is_rejected() {
    let mut claims = claims_json();
    claims["iss"] = json!("https://evil.example");
    assert_eq!(
        verify_access(&sign(&key_a(), &claims)),
        Err(TokenError::WrongIssuer)
    );
    // And a codec configured for another issuer refuses ours.
    let other = RsaTokenCodec::new(
        TokenConfig::new("https://other.example"),
        JwtKeyRing::new(key_a()),
    )
    .unwrap();
    let token = issue(&codec(), TokenKind::Access);
    assert_eq!(
        other.verify(TokenKind::Access, &token, now()),
        Err(TokenError::WrongIssuer)
    );
}

#[test]
fn a_token_for_another_audience_is_rejected() {
    let mut claims = claims_json();
    claims["aud"] = json!("some-other-api");
    assert_eq!(
        verify_access(&sign(&key_a(), &claims)),
        Err(TokenError::WrongAudience)
    );
    claims["aud"] = json!(["payymo-api", "some-other-api"]);
    assert!(verify_access(&sign(&key_a(), &claims)).is_err());
}

#[test]
fn a_refresh_token_is_not_an_access_token_nor_the_reverse() {
    let codec = codec();
    let refresh = issue(&codec, TokenKind::Refresh);
    let access = issue(&codec, TokenKind::Access);
    assert_eq!(
        codec.verify(TokenKind::Access, &refresh, now()),
        Err(TokenError::WrongAudience)
    );
    assert_eq!(
        codec.verify(TokenKind::Refresh, &access, now()),
        Err(TokenError::WrongAudience)
    );
}

#[test]
fn a_tampered_payload_is_rejected() {
    let token = issue(&codec(), TokenKind::Access);
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["role"] = json!("system_admin");
    let forged = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    assert_eq!(verify_access(&forged), Err(TokenError::BadSignature));
    // A flipped signature byte too.
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[0] ^= 1;
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(signature)
    );
    assert_eq!(verify_access(&forged), Err(TokenError::BadSignature));
}

#[test]
fn a_token_signed_by_another_deployments_key_is_rejected() {
    // Same kid on both sides, so only the signature tells them apart.
    let ours =
        RsaTokenCodec::new(config(), JwtKeyRing::new(key_a().with_kid("main").unwrap())).unwrap();
    let theirs =
        RsaTokenCodec::new(config(), JwtKeyRing::new(key_b().with_kid("main").unwrap())).unwrap();
    let token = issue(&theirs, TokenKind::Access);
    assert_eq!(
        ours.verify(TokenKind::Access, &token, now()),
        Err(TokenError::BadSignature)
    );
    // With its own kid it is simply an unknown key.
    let theirs = RsaTokenCodec::new(config(), JwtKeyRing::new(key_b())).unwrap();
    let token = issue(&theirs, TokenKind::Access);
    assert_eq!(
        codec().verify(TokenKind::Access, &token, now()),
        Err(TokenError::UnknownKey)
    );
}

#[test]
fn time_claims_given_as_strings_are_rejected() {
    for claim in ["exp", "nbf", "iat"] {
        let mut claims = claims_json();
        claims[claim] = json!(claims[claim].to_string());
        assert_eq!(
            verify_access(&sign(&key_a(), &claims)),
            Err(TokenError::Malformed),
            "{claim}"
        );
    }
}

#[test]
fn a_token_missing_any_claim_is_rejected() {
    for claim in [
        "iss", "aud", "jti", "sub", "exp", "nbf", "iat", "tenant", "role", "sid",
    ] {
        let mut claims = claims_json();
        claims.as_object_mut().unwrap().remove(claim);
        assert!(
            verify_access(&sign(&key_a(), &claims)).is_err(),
            "a token without {claim} was accepted"
        );
    }
}

#[test]
fn a_token_with_unknown_claims_or_critical_headers_is_rejected() {
    let mut claims = claims_json();
    claims["admin"] = json!(true);
    assert_eq!(
        verify_access(&sign(&key_a(), &claims)),
        Err(TokenError::Malformed)
    );

    let header = json!({"alg": "RS256", "kid": key_a().kid(), "crit": ["exp"]});
    let token = format!("{}.{}.c2ln", b64(&header), b64(&claims_json()));
    assert_eq!(verify_access(&token), Err(TokenError::Malformed));
}

#[test]
fn garbage_is_malformed() {
    for token in ["", "abc", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9"] {
        assert!(verify_access(token).is_err(), "{token}");
    }
}

// ----- keys, files, JWKS and rotation --------------------------------------------------------

#[test]
fn keys_load_from_pkcs1_and_pkcs8_pem_files_and_an_spki_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_a();
    let pkcs1 = dir.path().join("private-pkcs1.pem");
    let pkcs8 = dir.path().join("private-pkcs8.pem");
    let public = dir.path().join("public.pem");
    std::fs::write(&pkcs1, key.to_pkcs1_pem().expose_secret()).unwrap();
    std::fs::write(&pkcs8, key.to_pkcs8_pem().unwrap().expose_secret()).unwrap();
    std::fs::write(&public, key.verification_key().to_spki_pem().unwrap()).unwrap();
    assert!(
        std::fs::read_to_string(&pkcs1)
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );
    assert!(
        std::fs::read_to_string(&pkcs8)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert!(
        std::fs::read_to_string(&public)
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );

    for private in [&pkcs1, &pkcs8] {
        let ring = JwtKeyRing::from_pem_files(private, &public, &[]).unwrap();
        assert_eq!(ring.signing_kid(), key.kid());
        // A token from the original key verifies with the loaded ring and the reverse.
        let loaded = RsaTokenCodec::new(config(), ring).unwrap();
        assert!(
            loaded
                .verify(
                    TokenKind::Access,
                    &issue(&codec(), TokenKind::Access),
                    now()
                )
                .is_ok()
        );
        assert!(
            codec()
                .verify(TokenKind::Access, &issue(&loaded, TokenKind::Access), now())
                .is_ok()
        );
    }
}

#[test]
fn a_pkcs1_public_key_loads_too() {
    let key = key_a();
    let der = rsa_public_key_der(&key.public.n, &key.public.e);
    let pem = pem_encode("RSA PUBLIC KEY", &der);
    let loaded = JwtVerificationKey::from_pem(pem.as_bytes()).unwrap();
    assert_eq!(loaded.kid(), key.kid());
}

#[test]
fn a_public_key_that_is_not_the_private_keys_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("private.pem");
    let public = dir.path().join("public.pem");
    std::fs::write(&private, key_a().to_pkcs1_pem().expose_secret()).unwrap();
    std::fs::write(&public, key_b().verification_key().to_spki_pem().unwrap()).unwrap();
    assert_eq!(
        JwtKeyRing::from_pem_files(&private, &public, &[]).unwrap_err(),
        JwtKeyError::KeyMismatch
    );
}

#[test]
fn broken_key_files_give_clear_errors_without_their_content() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let err = JwtSigningKey::from_pem_file(&missing).unwrap_err();
    assert!(matches!(err, JwtKeyError::Io { .. }));
    assert!(err.to_string().contains("missing.pem"));

    assert_eq!(
        JwtSigningKey::from_pem(
            b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"
        )
        .unwrap_err(),
        JwtKeyError::InvalidPrivateKey
    );
    // A public key is not a private key, and the reverse.
    let public = key_a().verification_key().to_spki_pem().unwrap();
    assert_eq!(
        JwtSigningKey::from_pem(public.as_bytes()).unwrap_err(),
        JwtKeyError::InvalidPrivateKey
    );
    assert_eq!(
        JwtVerificationKey::from_pem(b"not a pem").unwrap_err(),
        JwtKeyError::InvalidPublicKey
    );
}

#[test]
fn a_key_shorter_than_2048_bits_is_refused() {
    let n = vec![0xC5; 128]; // 1024 bits
    assert_eq!(
        JwtVerificationKey::from_components(None, n, vec![1, 0, 1]).unwrap_err(),
        JwtKeyError::TooSmall(1024)
    );
}

#[test]
fn the_default_kid_is_the_rfc_7638_thumbprint() {
    // The example of RFC 7638, section 3.1.
    let n = URL_SAFE_NO_PAD
        .decode(
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJ\
             ECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW\
             2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQ\
             Fh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        )
        .unwrap();
    let e = URL_SAFE_NO_PAD.decode("AQAB").unwrap();
    assert_eq!(
        thumbprint(&n, &e),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    // And the same key file always gets the same kid.
    let pem = key_a().to_pkcs1_pem();
    let again = JwtSigningKey::from_pem(pem.expose_secret().as_bytes()).unwrap();
    assert_eq!(again.kid(), key_a().kid());
    assert_ne!(key_a().kid(), key_b().kid());
}

#[test]
fn the_jwks_publishes_every_verification_key_with_the_standard_members() {
    let ring = JwtKeyRing::new(key_a())
        .with_verification_key(key_b().verification_key().clone())
        .unwrap();
    let codec = RsaTokenCodec::new(config(), ring).unwrap();
    let keys = codec.public_keys();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].kid, key_a().kid());
    assert_eq!(keys[1].kid, key_b().kid());
    let document = jwks_document(&keys);
    let first = &document["keys"][0];
    assert_eq!(first["kty"], "RSA");
    assert_eq!(first["use"], "sig");
    assert_eq!(first["alg"], "RS256");
    assert_eq!(first["e"], "AQAB");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(first["n"].as_str().unwrap())
            .unwrap()
            .len(),
        256
    );
    let members: HashSet<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        members,
        HashSet::from(["kty", "kid", "use", "alg", "n", "e"])
    );

    // A client using only the JWKS can verify our tokens.
    let decoding = DecodingKey::from_rsa_components(
        first["n"].as_str().unwrap(),
        first["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["payymo-api"]);
    validation.validate_exp = false;
    let token = issue(&codec, TokenKind::Access);
    assert!(jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).is_ok());
}

#[test]
fn rotation_keeps_old_tokens_valid_until_their_key_is_dropped() {
    let codec = codec();
    let old_token = issue(&codec, TokenKind::Access);

    // Rotate: sign with B, still accept A.
    let rotated = JwtKeyRing::new(key_b())
        .with_verification_key(key_a().verification_key().clone())
        .unwrap();
    codec.replace_key_ring(rotated);
    let new_token = issue(&codec, TokenKind::Access);
    assert_eq!(
        jsonwebtoken::decode_header(&new_token)
            .unwrap()
            .kid
            .as_deref(),
        Some(key_b().kid())
    );
    assert!(codec.verify(TokenKind::Access, &old_token, now()).is_ok());
    assert!(codec.verify(TokenKind::Access, &new_token, now()).is_ok());
    assert_eq!(codec.public_keys().len(), 2);

    // Once A's tokens have expired, A is dropped.
    codec.replace_key_ring(JwtKeyRing::new(key_b()));
    assert_eq!(
        codec.verify(TokenKind::Access, &old_token, now()),
        Err(TokenError::UnknownKey)
    );
    assert!(codec.verify(TokenKind::Access, &new_token, now()).is_ok());
}

#[test]
fn two_keys_cannot_share_a_kid() {
    let ring = JwtKeyRing::new(key_a().with_kid("k").unwrap());
    let err = ring
        .with_verification_key(key_b().verification_key().clone().with_kid("k").unwrap())
        .unwrap_err();
    assert_eq!(err, JwtKeyError::DuplicateKeyId("k".to_owned()));
    // Adding the same key twice is harmless.
    let ring = JwtKeyRing::new(key_a())
        .with_verification_key(key_a().verification_key().clone())
        .unwrap();
    assert_eq!(ring.public_keys().len(), 1);
    assert_eq!(
        key_a().with_kid("bad kid!").unwrap_err(),
        JwtKeyError::InvalidKeyId
    );
}

#[test]
fn debug_output_never_contains_key_material_or_tokens() {
    let key = key_a();
    let pem = key.to_pkcs1_pem();
    let body_line = pem.expose_secret().lines().nth(1).unwrap().to_owned();
    let codec = codec();
    let issued = codec
        .issue(TokenKind::Access, &subject(), Uuid::from_u128(4), now())
        .unwrap();
    let signature = issued
        .token
        .expose_secret()
        .rsplit('.')
        .next()
        .unwrap()
        .to_owned();
    let n = URL_SAFE_NO_PAD.encode(&key.public.n);
    for debug in [
        format!("{key:?}"),
        format!("{:?}", key.verification_key()),
        format!("{codec:?}"),
        format!("{issued:?}"),
        format!("{pem:?}"),
        format!("{:?}", JwtKeyRing::new(key.clone())),
    ] {
        assert!(!debug.contains(&body_line), "{debug}");
        assert!(!debug.contains(&signature), "{debug}");
        assert!(!debug.contains(&n[..40]), "{debug}");
    }
}
