//! Criterion benchmarks of the crypto adapter: JWT verification throughput, argon2id latency at
//! the production parameters (hash, verify, dummy verify) and field encryption.
//!
//! Run with `cargo bench -p payymo-adapter-crypto`.
#![expect(
    clippy::unwrap_used,
    reason = "a benchmark has nothing better to do than abort on a setup failure"
)]

use std::hint::black_box;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use payymo_adapter_crypto::{
    AesGcmFieldCipher, Argon2PasswordHasher, FieldKey, FieldKeyRing, JwtKeyRing, RsaTokenCodec,
    TokenConfig,
};
use payymo_domain::ids::{SessionId, TenantId, UserId};
use payymo_ports::crypto::{
    FieldCipher, FieldContext, PasswordHasher, TokenCodec, TokenKind, TokenSubject,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

fn jwt(c: &mut Criterion) {
    let codec = RsaTokenCodec::new(
        TokenConfig::new("https://payymo.example"),
        JwtKeyRing::generate_ephemeral().unwrap(),
    )
    .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let subject = TokenSubject {
        user: UserId::from_uuid(Uuid::from_u128(1)),
        tenant: Some(TenantId::from_uuid(Uuid::from_u128(2))),
        role: "financial_admin".to_owned(),
        session: SessionId::from_uuid(Uuid::from_u128(3)),
    };
    let token = codec
        .issue(TokenKind::Access, &subject, Uuid::from_u128(4), now)
        .unwrap()
        .token;

    let mut group = c.benchmark_group("jwt");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_access_token", |b| {
        b.iter(|| {
            codec
                .verify(TokenKind::Access, black_box(token.expose_secret()), now)
                .unwrap()
        });
    });
    group.bench_function("issue_access_token", |b| {
        b.iter(|| {
            codec
                .issue(TokenKind::Access, &subject, Uuid::from_u128(5), now)
                .unwrap()
        });
    });
    group.finish();
}

fn argon2(c: &mut Criterion) {
    let hasher = Argon2PasswordHasher::new().unwrap();
    let password = SecretString::from("Correct-Horse-Battery-9".to_owned());
    let hash = hasher.hash(&password).unwrap();
    let wrong = SecretString::from("Correct-Horse-Battery-8".to_owned());

    let mut group = c.benchmark_group("argon2id_m19456_t2_p1");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("hash", |b| b.iter(|| hasher.hash(&password).unwrap()));
    group.bench_function("verify_wrong_password", |b| {
        b.iter(|| hasher.verify(&wrong, &hash).unwrap());
    });
    group.bench_function("verify_dummy_unknown_user", |b| {
        b.iter(|| hasher.verify_dummy(&wrong));
    });
    group.finish();
}

fn field(c: &mut Criterion) {
    let cipher = AesGcmFieldCipher::new(FieldKeyRing::new(FieldKey::generate("k1").unwrap()));
    let context = FieldContext::tenant(
        TenantId::from_uuid(Uuid::from_u128(1)),
        "stripe_connections",
        "secret_key",
    );
    let plaintext = SecretString::from("sk_live_0123456789abcdefghijklmnopqrstuvwxyz".to_owned());
    let field = cipher.encrypt(&plaintext, &context).unwrap();

    let mut group = c.benchmark_group("field_aes256gcm");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encrypt", |b| {
        b.iter(|| cipher.encrypt(&plaintext, &context).unwrap());
    });
    group.bench_function("decrypt", |b| {
        b.iter(|| cipher.decrypt(&field, &context).unwrap());
    });
    group.finish();
}

criterion_group!(benches, jwt, argon2, field);
criterion_main!(benches);
