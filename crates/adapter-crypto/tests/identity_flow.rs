//! The adapters used only through the ports, as `Arc<dyn Port>`, the way the identity service
//! will: registration, login with an upgrade check, MFA enrolment with the secret encrypted at
//! rest, token issue and refresh, API keys.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use payymo_adapter_crypto::{
    AesGcmFieldCipher, Argon2PasswordHasher, FieldKey, FieldKeyRing, JwtKeyRing,
    OpaqueTokenGenerator, RecoveryCodeGenerator, RsaTokenCodec, TokenConfig, TotpAuthenticator,
    jwks_document,
};
use payymo_domain::ids::{SessionId, TenantId, UserId};
use payymo_domain::password_policy::PasswordPolicy;
use payymo_ports::crypto::{
    EncryptedField, FieldCipher, FieldContext, OpaqueTokens, PasswordHasher, PasswordVerification,
    RecoveryCodeHash, RecoveryCodes, TokenCodec, TokenError, TokenKind, TokenSubject, Totp,
    TotpError, TotpSecret,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

struct Crypto {
    passwords: Arc<dyn PasswordHasher>,
    tokens: Arc<dyn TokenCodec>,
    totp: Arc<dyn Totp>,
    recovery: Arc<dyn RecoveryCodes>,
    cipher: Arc<dyn FieldCipher>,
    opaque: Arc<dyn OpaqueTokens>,
}

#[expect(clippy::unwrap_used, reason = "test setup aborts the test on failure")]
fn crypto() -> Crypto {
    Crypto {
        passwords: Arc::new(Argon2PasswordHasher::new().unwrap()),
        tokens: Arc::new(
            RsaTokenCodec::new(
                TokenConfig::new("https://payymo.example"),
                JwtKeyRing::generate_ephemeral().unwrap(),
            )
            .unwrap(),
        ),
        totp: Arc::new(TotpAuthenticator::new()),
        recovery: Arc::new(RecoveryCodeGenerator::new()),
        cipher: Arc::new(AesGcmFieldCipher::new(FieldKeyRing::new(
            FieldKey::generate("k1").unwrap(),
        ))),
        opaque: Arc::new(OpaqueTokenGenerator::new()),
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap()
}

#[test]
fn a_user_registers_enrols_mfa_logs_in_and_refreshes() {
    let c = crypto();
    let tenant = TenantId::from_uuid(Uuid::from_u128(7));
    let user = UserId::from_uuid(Uuid::from_u128(8));

    // Registration: policy, then hash.
    let password = SecretString::from("Ledger-Balance-2026!".to_owned());
    PasswordPolicy::standard()
        .check(password.expose_secret())
        .unwrap();
    let stored_hash = c.passwords.hash(&password).unwrap();

    // MFA enrolment: secret shown as a URI, stored encrypted, bound to the user's row.
    let secret = c.totp.generate_secret().unwrap();
    let uri = c
        .totp
        .provisioning_uri(&secret, "Payymo", "ana@example.com")
        .unwrap();
    assert!(uri.expose_secret().starts_with("otpauth://totp/Payymo:"));
    let context = FieldContext::tenant(tenant, "users", "mfa_secret").with_row(user.into_uuid());
    let stored_secret: String = c
        .cipher
        .encrypt(secret.base32(), &context)
        .unwrap()
        .into_string();
    assert!(!stored_secret.contains(secret.base32().expose_secret()));
    let codes = c.recovery.generate(10).unwrap();
    let stored_codes: Vec<RecoveryCodeHash> = codes.iter().map(|code| code.hash.clone()).collect();

    // Login: password, then the TOTP code from the decrypted secret.
    assert_eq!(
        c.passwords.verify(&password, &stored_hash).unwrap(),
        PasswordVerification::Valid {
            needs_rehash: false
        }
    );
    let secret = TotpSecret::from_base32(
        c.cipher
            .decrypt(&EncryptedField::from_stored(stored_secret), &context)
            .unwrap(),
    );
    let code = TotpAuthenticator::code_at(&secret, now()).unwrap();
    let step = c.totp.verify(&secret, &code, now(), None).unwrap();
    assert_eq!(
        c.totp.verify(&secret, &code, now(), Some(step)),
        Err(TotpError::Replayed)
    );
    // A recovery code works instead, once.
    let index = c
        .recovery
        .find(codes[2].code.expose_secret(), &stored_codes)
        .unwrap();
    assert_eq!(index, 2);

    // Tokens.
    let subject = TokenSubject {
        user,
        tenant: Some(tenant),
        role: "financial_admin".to_owned(),
        session: SessionId::from_uuid(Uuid::from_u128(9)),
    };
    let access = c
        .tokens
        .issue(TokenKind::Access, &subject, Uuid::from_u128(10), now())
        .unwrap();
    let refresh = c
        .tokens
        .issue(TokenKind::Refresh, &subject, Uuid::from_u128(11), now())
        .unwrap();
    assert_eq!(access.expires_in(now()), 15 * 60);
    let claims = c
        .tokens
        .verify(TokenKind::Access, access.token.expose_secret(), now())
        .unwrap();
    assert_eq!(claims.subject, subject);

    // Twenty minutes later the access token is dead and the refresh token still works.
    let later = now() + Duration::minutes(20);
    assert_eq!(
        c.tokens
            .verify(TokenKind::Access, access.token.expose_secret(), later),
        Err(TokenError::Expired)
    );
    let refreshed = c
        .tokens
        .verify(TokenKind::Refresh, refresh.token.expose_secret(), later)
        .unwrap();
    assert_eq!(refreshed.token_id, Uuid::from_u128(11));
    assert_eq!(refreshed.subject.session, subject.session);

    let jwks = jwks_document(&c.tokens.public_keys());
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
}

#[test]
fn an_unknown_user_and_a_wrong_password_cost_the_same_calls() {
    let c = crypto();
    let password = SecretString::from("whatever-they-typed".to_owned());
    // The service calls exactly one argon2 verification in either case.
    c.passwords.verify_dummy(&password);
    let hash = c
        .passwords
        .hash(&SecretString::from("Ledger-Balance-2026!".to_owned()))
        .unwrap();
    assert_eq!(
        c.passwords.verify(&password, &hash).unwrap(),
        PasswordVerification::Invalid
    );
}

#[test]
fn an_api_key_is_shown_once_and_found_by_its_digest() {
    let c = crypto();
    let key = c.opaque.new_api_key().unwrap();
    let presented = key.secret.expose_secret().to_owned();
    assert!(c.opaque.is_api_key(&presented));
    assert_eq!(c.opaque.digest(&presented), key.digest);
    assert!(c.opaque.verify_digest(&presented, &key.digest));
    assert!(presented.starts_with(&key.display_prefix));
}
