//! Licence rules against mocked stores.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use payymo_adapter_crypto::OpaqueTokenGenerator;
use payymo_domain::ids::{LicenceId, TenantId};
use payymo_domain::user::{Licence, LicenceStatus};
use payymo_ports::clock::{Clock, IdGenerator};
use payymo_ports::crypto::OpaqueTokens;
use payymo_ports::storage::{MockAuditLog, MockCredentialStore, MockTenantStore, StoreError};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::*;

struct FixedClock(DateTime<Utc>);
impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

struct Ids(std::sync::atomic::AtomicU64);
impl IdGenerator for Ids {
    fn new_id(&self) -> Uuid {
        Uuid::from_u128(u128::from(
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
        ))
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0)
        .single()
        .unwrap()
}

const KEY: &str = "pyl_the-one-key";

fn licence(status: LicenceStatus, expires_at: Option<DateTime<Utc>>) -> Licence {
    Licence {
        id: LicenceId::from_uuid(Uuid::from_u128(1)),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
        key_hash: OpaqueTokenGenerator::new().digest(KEY).as_str().to_owned(),
        allowed_domain: "billing.example.com".to_owned(),
        status,
        expires_at,
        created_at: now(),
    }
}

fn service(credentials: MockCredentialStore, tenants: MockTenantStore) -> LicenceService {
    let mut audit = MockAuditLog::new();
    audit.expect_append().returning(|_| Ok(()));
    LicenceService::new(LicencePorts {
        tenants: Arc::new(tenants),
        credentials: Arc::new(credentials),
        audit: Arc::new(audit),
        opaque: Arc::new(OpaqueTokenGenerator::new()),
        clock: Arc::new(FixedClock(now())),
        ids: Arc::new(Ids(std::sync::atomic::AtomicU64::new(100))),
    })
}

fn holding(stored: Licence) -> LicenceService {
    let mut credentials = MockCredentialStore::new();
    credentials.expect_find_licence().returning(move |hash| {
        if hash == stored.key_hash {
            Ok(stored.clone())
        } else {
            Err(StoreError::NotFound)
        }
    });
    service(credentials, MockTenantStore::new())
}

#[test]
fn domains_compare_without_case_www_scheme_port_or_path() {
    for input in [
        "billing.example.com",
        "BILLING.Example.COM",
        "www.billing.example.com",
        "billing.example.com:8443",
        "https://www.billing.example.com:443/whmcs/admin?x=1",
        "billing.example.com.",
        "  billing.example.com  ",
    ] {
        assert_eq!(
            normalise_domain(input).as_deref(),
            Some("billing.example.com"),
            "{input}"
        );
    }
    for bad in [
        "",
        "   ",
        "exa mple.com",
        "-bad.example.com",
        "a..b",
        "http://",
        "ümlaut.de",
    ] {
        assert_eq!(normalise_domain(bad), None, "{bad:?}");
    }
}

#[tokio::test]
async fn each_state_gets_its_verdict() {
    let cases = [
        (
            licence(LicenceStatus::Active, None),
            "www.Billing.example.com:80",
            Verdict::Valid,
        ),
        (
            licence(LicenceStatus::Active, Some(now() + Duration::days(1))),
            "billing.example.com",
            Verdict::Valid,
        ),
        (
            licence(LicenceStatus::Active, Some(now())),
            "billing.example.com",
            Verdict::Expired,
        ),
        (
            licence(LicenceStatus::Suspended, None),
            "billing.example.com",
            Verdict::Suspended,
        ),
        (
            licence(LicenceStatus::Revoked, None),
            "billing.example.com",
            Verdict::Revoked,
        ),
        (
            licence(LicenceStatus::Active, None),
            "other.example.com",
            Verdict::WrongDomain,
        ),
    ];
    for (stored, domain, expected) in cases {
        let status = stored.status;
        assert_eq!(
            holding(stored).validate(KEY, domain).await.unwrap(),
            expected,
            "{status:?} from {domain}"
        );
    }
}

#[tokio::test]
async fn unknown_and_malformed_keys_are_both_invalid() {
    let service = holding(licence(LicenceStatus::Active, None));
    for key in [
        "pyl_someone-elses",
        "",
        "not a key at all",
        &"x".repeat(5000),
    ] {
        assert_eq!(
            service.validate(key, "billing.example.com").await.unwrap(),
            Verdict::Invalid
        );
    }
}

#[tokio::test]
async fn a_storage_failure_is_an_error_not_a_verdict() {
    let mut credentials = MockCredentialStore::new();
    credentials
        .expect_find_licence()
        .returning(|_| Err(StoreError::Unavailable("down".into())));
    let service = service(credentials, MockTenantStore::new());
    assert!(matches!(
        service.validate(KEY, "billing.example.com").await,
        Err(LicenceError::Internal(_))
    ));
}

#[tokio::test]
async fn issuing_stores_the_digest_and_shows_the_key_once() {
    let mut tenants = MockTenantStore::new();
    tenants.expect_get_tenant().returning(|id| {
        Ok(payymo_domain::tenant::Tenant {
            id,
            name: "Acme".into(),
            status: payymo_domain::tenant::TenantStatus::Active,
            created_at: now(),
            updated_at: now(),
        })
    });
    let stored = Arc::new(std::sync::Mutex::new(None));
    let keep = Arc::clone(&stored);
    let mut credentials = MockCredentialStore::new();
    credentials.expect_create_licence().returning(move |l| {
        *keep.lock().unwrap() = Some(l.clone());
        Ok(())
    });
    let issued = service(credentials, tenants)
        .issue(
            &Actor::admin_api_key(),
            TenantId::from_uuid(Uuid::from_u128(9)),
            "WWW.Shop.example.org",
            None,
            &RequestContext::default(),
        )
        .await
        .unwrap();
    let key = issued.key.expose_secret();
    assert!(key.starts_with(KEY_PREFIX) && key.len() >= KEY_PREFIX.len() + 43);
    let stored = stored.lock().unwrap().clone().unwrap();
    assert_eq!(stored.allowed_domain, "shop.example.org");
    assert_eq!(
        stored.key_hash,
        OpaqueTokenGenerator::new().digest(key).as_str()
    );
    assert_ne!(stored.key_hash, key);
}

#[tokio::test]
async fn issuing_refuses_unknown_tenants_bad_domains_and_past_expiry() {
    let mut tenants = MockTenantStore::new();
    tenants
        .expect_get_tenant()
        .returning(|_| Err(StoreError::NotFound));
    let service = service(MockCredentialStore::new(), tenants);
    let ctx = RequestContext::default();
    let t = TenantId::from_uuid(Uuid::from_u128(9));
    let field = |r: Result<IssuedLicence, LicenceError>| match r {
        Err(LicenceError::Invalid { field, .. }) => field,
        other => panic!("not invalid: {other:?}"),
    };
    assert_eq!(
        field(
            service
                .issue(&Actor::system(), t, "ok.example", None, &ctx)
                .await
        ),
        "tenant_id"
    );
    assert_eq!(
        field(
            service
                .issue(&Actor::system(), t, "no spaces.example", None, &ctx)
                .await
        ),
        "domain"
    );
    assert_eq!(
        field(
            service
                .issue(&Actor::system(), t, "ok.example", Some(now()), &ctx)
                .await
        ),
        "expires_at"
    );
}

#[tokio::test]
async fn a_revoked_licence_cannot_be_edited_back() {
    let mut credentials = MockCredentialStore::new();
    credentials
        .expect_get_licence()
        .returning(|_| Ok(licence(LicenceStatus::Revoked, None)));
    credentials.expect_update_licence().never();
    let service = service(credentials, MockTenantStore::new());
    let edit = LicenceEdit {
        status: Some(LicenceStatus::Active),
        ..LicenceEdit::default()
    };
    let result = service
        .edit(
            &Actor::system(),
            LicenceId::from_uuid(Uuid::from_u128(1)),
            &edit,
            &RequestContext::default(),
        )
        .await;
    assert!(matches!(
        result,
        Err(LicenceError::Invalid { field: "id", .. })
    ));
}
