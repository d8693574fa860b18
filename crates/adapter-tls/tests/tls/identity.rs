//! Loading and validating client identities, and the certificate list's expiry bands.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use std::sync::Arc;

use crate::common::{Ca, CapturedLogs, Leaf, ManualClock};
use chrono::{TimeDelta, Utc};
use payymo_adapter_tls::{
    CertificateKind, CertificateStore, ClientIdentity, ExpiryStatus, IdentitySource, TlsError,
    TrustRoots,
};
use rcgen::ExtendedKeyUsagePurpose;

fn roots(ca: &Ca) -> TrustRoots {
    TrustRoots::from_pem(ca.pem().as_bytes()).unwrap()
}

#[test]
fn a_valid_client_identity_loads_with_its_certificate_facts() {
    let ca = Ca::new("Bank Client CA");
    let client = ca.leaf(&Leaf::client("payymo-tenant-42"));
    let identity = ClientIdentity::from_pem(
        client.cert_pem.as_bytes(),
        client.key_pem.as_bytes(),
        &roots(&ca),
        Utc::now(),
    )
    .unwrap();
    let info = identity.certificate();
    assert_eq!(info.subject, "CN=payymo-tenant-42");
    assert_eq!(info.issuer, "CN=Bank Client CA");
    assert!(info.not_after > Utc::now() + TimeDelta::days(80));
    let debug = format!("{identity:?}");
    assert!(debug.contains("payymo-tenant-42"));
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
}

#[test]
fn a_chain_through_an_intermediate_loads() {
    let root = Ca::new("Bank Root");
    let intermediate = root.intermediate("Bank Issuing CA");
    let client = intermediate.leaf(&Leaf::client("payymo"));
    let chain = format!("{}{}", client.cert_pem, intermediate.pem());
    let identity = ClientIdentity::from_pem(
        chain.as_bytes(),
        client.key_pem.as_bytes(),
        &roots(&root),
        Utc::now(),
    )
    .unwrap();
    assert_eq!(identity.certified_key().cert.len(), 2);

    // Without the intermediate in the file, the chain does not reach the root.
    let error = ClientIdentity::from_pem(
        client.cert_pem.as_bytes(),
        client.key_pem.as_bytes(),
        &roots(&root),
        Utc::now(),
    )
    .unwrap_err();
    assert_eq!(
        error,
        TlsError::UntrustedChain {
            subject: "CN=payymo".to_owned()
        }
    );
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let ca = Ca::new("CA");
    let client = ca.leaf(&Leaf::client("payymo"));
    let other = ca.leaf(&Leaf::client("someone else"));
    let error = ClientIdentity::from_pem(
        client.cert_pem.as_bytes(),
        other.key_pem.as_bytes(),
        &roots(&ca),
        Utc::now(),
    )
    .unwrap_err();
    assert_eq!(
        error,
        TlsError::KeyMismatch {
            subject: "CN=payymo".to_owned()
        }
    );
    assert_eq!(
        error.to_string(),
        "the private key does not match the certificate CN=payymo"
    );
}

#[test]
fn a_certificate_from_another_root_is_refused() {
    let ca = Ca::new("CA");
    let stranger = Ca::new("Stranger CA");
    let client = stranger.leaf(&Leaf::client("payymo"));
    let error = ClientIdentity::from_pem(
        client.cert_pem.as_bytes(),
        client.key_pem.as_bytes(),
        &roots(&ca),
        Utc::now(),
    )
    .unwrap_err();
    assert!(
        matches!(error, TlsError::UntrustedChain { .. }),
        "{error:?}"
    );
}

#[test]
fn validity_dates_are_checked_against_the_given_instant() {
    let ca = Ca::new("CA");
    let client = ca.leaf(&Leaf::client("payymo"));
    let load = |now| {
        ClientIdentity::from_pem(
            client.cert_pem.as_bytes(),
            client.key_pem.as_bytes(),
            &roots(&ca),
            now,
        )
    };
    let expired = load(Utc::now() + TimeDelta::days(100)).unwrap_err();
    assert!(matches!(expired, TlsError::Expired { .. }), "{expired:?}");
    assert!(
        expired
            .to_string()
            .starts_with("certificate CN=payymo expired at ")
    );
    let early = load(Utc::now() - TimeDelta::days(10)).unwrap_err();
    assert!(matches!(early, TlsError::NotYetValid { .. }), "{early:?}");
}

#[test]
fn a_certificate_without_client_auth_usage_is_refused() {
    let ca = Ca::new("CA");
    let mut spec = Leaf::client("payymo");
    spec.usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_only = ca.leaf(&spec);
    let error = ClientIdentity::from_pem(
        server_only.cert_pem.as_bytes(),
        server_only.key_pem.as_bytes(),
        &roots(&ca),
        Utc::now(),
    )
    .unwrap_err();
    assert_eq!(
        error,
        TlsError::WrongUsage {
            subject: "CN=payymo".to_owned()
        }
    );
}

#[test]
fn pem_without_a_certificate_or_a_key_is_refused_clearly() {
    let ca = Ca::new("CA");
    let client = ca.leaf(&Leaf::client("payymo"));
    let no_cert = ClientIdentity::from_pem(
        b"not pem at all",
        client.key_pem.as_bytes(),
        &roots(&ca),
        Utc::now(),
    )
    .unwrap_err();
    assert_eq!(
        no_cert,
        TlsError::NoCertificate {
            what: "certificate chain"
        }
    );
    let no_key = ClientIdentity::from_pem(
        client.cert_pem.as_bytes(),
        client.cert_pem.as_bytes(),
        &roots(&ca),
        Utc::now(),
    )
    .unwrap_err();
    assert_eq!(no_key, TlsError::NoPrivateKey);
    assert!(matches!(
        TrustRoots::from_pem(b"").unwrap_err(),
        TlsError::NoCertificate {
            what: "trusted roots"
        }
    ));
}

#[test]
fn a_missing_file_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("client.crt");
    let error = ClientIdentity::from_files(&missing, &missing, &missing, Utc::now()).unwrap_err();
    assert!(
        matches!(error, TlsError::Read { ref path, .. } if *path == missing),
        "{error:?}"
    );
}

#[test]
fn the_list_shows_expiry_bands_and_warns_once_per_band() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let ca = Ca::new("CA");
    let client = ca.leaf(&Leaf::client("payymo"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("client.crt"), &client.cert_pem).unwrap();
    std::fs::write(dir.path().join("client.key"), &client.key_pem).unwrap();
    std::fs::write(dir.path().join("ca.crt"), ca.pem()).unwrap();
    let clock = ManualClock::at(Utc::now());
    let store = Arc::new(CertificateStore::new(clock.clone()));
    let identity = store
        .load_identity(IdentitySource::in_dir("gocardless", dir.path()))
        .unwrap();
    let not_after = identity.current().certificate().not_after;

    let rows = store.list();
    assert_eq!(rows.len(), 2);
    let client_row = rows
        .iter()
        .find(|r| r.kind == CertificateKind::Client)
        .unwrap();
    assert_eq!(client_row.service, "gocardless");
    assert_eq!(client_row.expiry, ExpiryStatus::Valid);
    assert!(
        rows.iter()
            .any(|r| r.kind == CertificateKind::Root && r.certificate.subject == "CN=CA")
    );
    assert!(store.warn_expiring().is_empty());

    clock.set(not_after - TimeDelta::days(20));
    let warned = store.warn_expiring();
    assert_eq!(warned.len(), 1);
    assert_eq!(warned[0].expiry, ExpiryStatus::ExpiresWithin30Days);
    assert_eq!(warned[0].days_left, 20);
    store.warn_expiring();
    assert_eq!(
        logs.text().matches("certificate close to expiry").count(),
        1
    );

    clock.set(not_after - TimeDelta::days(3));
    assert_eq!(
        store.warn_expiring()[0].expiry,
        ExpiryStatus::ExpiresWithin7Days
    );
    assert_eq!(
        logs.text().matches("certificate close to expiry").count(),
        2
    );

    clock.set(not_after + TimeDelta::hours(1));
    assert_eq!(store.list()[0].expiry, ExpiryStatus::Expired);

    let json = serde_json::to_value(&store.list()[0]).unwrap();
    for field in [
        "service",
        "kind",
        "subject",
        "issuer",
        "not_after",
        "days_left",
        "expiry",
        "pin",
        "spki_pin",
    ] {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
    assert!(!logs.text().contains("PRIVATE KEY"));
}
