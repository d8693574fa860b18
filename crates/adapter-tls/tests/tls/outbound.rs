//! The outgoing client against a local TLS server: pinning, expiry, mutual TLS and rotation.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{Ca, CapturedLogs, Issued, Leaf, ManualClock, serve};
use chrono::{TimeDelta, Utc};
use payymo_adapter_tls::{
    CertificateKind, CertificateStore, IdentitySource, OutboundClientBuilder, PinAuditSink,
    PinMismatch, PinSet, PinStatus, ReloadOutcome, ServerRoots, SpkiPin, TlsError, TrustRoots,
    pin_mismatch_in, tls_error_in,
};

fn custom_roots(ca: &Ca) -> ServerRoots {
    ServerRoots::Custom(TrustRoots::from_pem(ca.pem().as_bytes()).unwrap())
}

fn pin_of(issued: &Issued) -> SpkiPin {
    SpkiPin::of_certificate(&issued.cert_der).unwrap()
}

fn builder(ca: &Ca) -> OutboundClientBuilder {
    OutboundClientBuilder::new("bank")
        .server_roots(custom_roots(ca))
        .timeouts(Duration::from_secs(5), Duration::from_secs(5))
}

async fn get(
    client: &reqwest::Client,
    address: std::net::SocketAddr,
) -> Result<String, reqwest::Error> {
    client
        .get(format!("https://{address}/accounts"))
        .send()
        .await?
        .text()
        .await
}

#[derive(Default)]
struct RecordingAudit(Mutex<Vec<PinMismatch>>);

impl PinAuditSink for RecordingAudit {
    fn pin_mismatch(&self, event: &PinMismatch) {
        self.0.lock().unwrap().push(event.clone());
    }
}

#[tokio::test]
async fn a_server_whose_key_matches_a_pin_is_reached() {
    let ca = Ca::new("Bank CA");
    let server = ca.leaf(&Leaf::server());
    let (address, _) = serve(vec![server.cert_der.clone()], server.key_der(), None).await;
    let store = Arc::new(CertificateStore::new(ManualClock::at(Utc::now())));
    let client = builder(&ca)
        .pins(PinSet::new([pin_of(&server)]).unwrap())
        .register_with(&store)
        .build()
        .unwrap();
    assert_eq!(get(&client, address).await.unwrap(), "ok");
    assert_eq!(
        store.pin_statuses(),
        vec![("bank".to_owned(), PinStatus::Matched)]
    );
    let rows = store.list();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].kind, CertificateKind::Server);
    assert_eq!(rows[0].pin, PinStatus::Matched);
    assert_eq!(rows[0].certificate.subject, "CN=bank api");
}

#[tokio::test]
async fn an_unpinned_service_is_verified_against_its_roots_only() {
    let ca = Ca::new("Bank CA");
    let server = ca.leaf(&Leaf::server());
    let (address, _) = serve(vec![server.cert_der.clone()], server.key_der(), None).await;
    let client = builder(&ca).build().unwrap();
    assert_eq!(get(&client, address).await.unwrap(), "ok");

    let stranger = Ca::new("Stranger CA");
    let refused = builder(&stranger).build().unwrap();
    assert!(
        get(&refused, address).await.is_err(),
        "a server from an untrusted root was reached"
    );
}

#[test]
fn a_server_whose_chain_matches_no_pin_is_refused_logged_and_audited() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ca = Ca::new("Bank CA");
        let server = ca.leaf(&Leaf::server());
        let impostor_key = ca.leaf(&Leaf::server());
        let (address, _) = serve(vec![server.cert_der.clone()], server.key_der(), None).await;
        let audit = Arc::new(RecordingAudit::default());
        let store = Arc::new(CertificateStore::new(ManualClock::at(Utc::now())));
        let client = builder(&ca)
            .pins(PinSet::new([pin_of(&impostor_key)]).unwrap())
            .audit(audit.clone())
            .register_with(&store)
            .build()
            .unwrap();

        let error = get(&client, address).await.unwrap_err();
        let mismatch = pin_mismatch_in(&error).expect("the pin mismatch in the error chain");
        assert_eq!(mismatch.service, "bank");
        assert_eq!(mismatch.server_name, "127.0.0.1");
        assert_eq!(mismatch.presented, vec![pin_of(&server)]);

        let events = audit.0.lock().unwrap().clone();
        assert_eq!(events.len(), 1);
        assert_eq!(&events[0], mismatch);
        assert_eq!(
            store.pin_statuses(),
            vec![("bank".to_owned(), PinStatus::Mismatch)]
        );
    });
    assert!(
        logs.text().contains("certificate pin mismatch"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn several_pins_at_once_allow_a_rotation_and_an_intermediate_can_be_pinned() {
    let root = Ca::new("Bank Root");
    let intermediate = root.intermediate("Bank Issuing CA");
    let server = intermediate.leaf(&Leaf::server());
    let (address, _) = serve(
        vec![server.cert_der.clone(), intermediate.der()],
        server.key_der(),
        None,
    )
    .await;
    let next_key = root.leaf(&Leaf::server());
    let intermediate_pin = SpkiPin::of_certificate(&intermediate.der()).unwrap();
    let client = builder(&root)
        .pins(PinSet::new([pin_of(&next_key), intermediate_pin]).unwrap())
        .build()
        .unwrap();
    assert_eq!(get(&client, address).await.unwrap(), "ok");
}

#[tokio::test]
async fn an_expired_server_certificate_is_refused_even_when_pinned() {
    let ca = Ca::new("Bank CA");
    let mut spec = Leaf::server();
    spec.not_before = Utc::now() - TimeDelta::days(400);
    spec.not_after = Utc::now() - TimeDelta::days(35);
    let expired = ca.leaf(&spec);
    let (address, _) = serve(vec![expired.cert_der.clone()], expired.key_der(), None).await;
    let client = builder(&ca)
        .pins(PinSet::new([pin_of(&expired)]).unwrap())
        .build()
        .unwrap();
    let error = get(&client, address).await.unwrap_err();
    let rustls_error = tls_error_in(&error).expect("a rustls error");
    assert!(
        matches!(
            rustls_error,
            rustls::Error::InvalidCertificate(
                rustls::CertificateError::Expired | rustls::CertificateError::ExpiredContext { .. }
            )
        ),
        "{rustls_error:?}"
    );
}

struct MutualTls {
    server_ca: Ca,
    client_ca: Ca,
    dir: tempfile::TempDir,
}

impl MutualTls {
    fn new() -> Self {
        Self {
            server_ca: Ca::new("Bank Server CA"),
            client_ca: Ca::new("Bank Client CA"),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write_client(&self, issued: &Issued) {
        // Write then rename, as a deployment tool would, so a poll never sees half a file.
        for (name, contents) in [
            ("client.crt", &issued.cert_pem),
            ("client.key", &issued.key_pem),
            ("ca.crt", &self.client_ca.pem()),
        ] {
            let staged = self.dir.path().join(format!(".{name}.new"));
            std::fs::write(&staged, contents).unwrap();
            std::fs::rename(&staged, self.dir.path().join(name)).unwrap();
        }
    }

    fn source(&self) -> IdentitySource {
        IdentitySource::in_dir("bank", self.dir.path())
    }
}

#[tokio::test]
async fn mutual_tls_is_accepted_with_the_client_certificate_and_refused_without() {
    let pki = MutualTls::new();
    let server = pki.server_ca.leaf(&Leaf::server());
    let client_cert = pki.client_ca.leaf(&Leaf::client("payymo"));
    pki.write_client(&client_cert);
    let (address, seen) = serve(
        vec![server.cert_der.clone()],
        server.key_der(),
        Some(&pki.client_ca),
    )
    .await;
    let store = Arc::new(CertificateStore::new(ManualClock::at(Utc::now())));
    let identity = store.load_identity(pki.source()).unwrap();

    let with_cert = builder(&pki.server_ca)
        .client_identity(identity)
        .build()
        .unwrap();
    assert_eq!(get(&with_cert, address).await.unwrap(), "ok");
    assert_eq!(
        seen.lock().unwrap().last().cloned().flatten(),
        Some(client_cert.cert_der.clone())
    );

    let without = builder(&pki.server_ca).build().unwrap();
    assert!(
        get(&without, address).await.is_err(),
        "the server let a client without certificate in"
    );

    let stranger = Ca::new("Stranger");
    let wrong = stranger.leaf(&Leaf::client("payymo"));
    let wrong_identity = payymo_adapter_tls::ClientIdentity::from_pem(
        wrong.cert_pem.as_bytes(),
        wrong.key_pem.as_bytes(),
        &TrustRoots::from_pem(stranger.pem().as_bytes()).unwrap(),
        Utc::now(),
    )
    .unwrap();
    let wrong_client = builder(&pki.server_ca)
        .client_identity(Arc::new(wrong_identity))
        .build()
        .unwrap();
    assert!(
        get(&wrong_client, address).await.is_err(),
        "a certificate from another CA was accepted"
    );
}

#[tokio::test]
async fn a_rotated_client_certificate_is_presented_by_the_next_connection() {
    let pki = MutualTls::new();
    let server = pki.server_ca.leaf(&Leaf::server());
    let first = pki.client_ca.leaf(&Leaf::client("payymo 2026"));
    pki.write_client(&first);
    let (address, seen) = serve(
        vec![server.cert_der.clone()],
        server.key_der(),
        Some(&pki.client_ca),
    )
    .await;
    let store = Arc::new(CertificateStore::new(ManualClock::at(Utc::now())));
    let identity = store.load_identity(pki.source()).unwrap();
    let client = builder(&pki.server_ca)
        .client_identity(identity.clone())
        .build()
        .unwrap();
    get(&client, address).await.unwrap();

    assert_eq!(
        store.reload_changed(),
        vec![("bank".to_owned(), ReloadOutcome::Unchanged)]
    );
    let second = pki.client_ca.leaf(&Leaf::client("payymo 2027"));
    pki.write_client(&second);
    let outcomes = store.reload_changed();
    assert!(
        matches!(&outcomes[0].1, ReloadOutcome::Rotated { certificate } if certificate.subject == "CN=payymo 2027"),
        "{outcomes:?}"
    );

    get(&client, address).await.unwrap();
    let presented: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .cloned()
        .map(Option::unwrap)
        .collect();
    assert_eq!(
        presented,
        vec![first.cert_der.clone(), second.cert_der.clone()]
    );
    assert_eq!(identity.current().certificate().subject, "CN=payymo 2027");
}

#[test]
fn an_invalid_new_certificate_is_refused_logged_and_the_old_one_kept() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pki = MutualTls::new();
        let server = pki.server_ca.leaf(&Leaf::server());
        let good = pki.client_ca.leaf(&Leaf::client("payymo good"));
        pki.write_client(&good);
        let (address, seen) = serve(
            vec![server.cert_der.clone()],
            server.key_der(),
            Some(&pki.client_ca),
        )
        .await;
        let store = Arc::new(CertificateStore::new(ManualClock::at(Utc::now())));
        let identity = store.load_identity(pki.source()).unwrap();
        let client = builder(&pki.server_ca)
            .client_identity(identity.clone())
            .build()
            .unwrap();

        // Half a rotation: the new certificate arrives with the old key.
        let next = pki.client_ca.leaf(&Leaf::client("payymo next"));
        std::fs::write(pki.dir.path().join("client.crt"), &next.cert_pem).unwrap();
        let outcomes = store.reload_changed();
        assert!(
            matches!(
                &outcomes[0].1,
                ReloadOutcome::Refused(TlsError::KeyMismatch { .. })
            ),
            "{outcomes:?}"
        );
        // Refused files are not retried (nor logged) at every poll.
        assert_eq!(store.reload_changed()[0].1, ReloadOutcome::Unchanged);

        get(&client, address).await.unwrap();
        assert_eq!(
            seen.lock().unwrap().last().cloned().flatten(),
            Some(good.cert_der.clone())
        );
        assert_eq!(identity.current().certificate().subject, "CN=payymo good");

        // Garbage is refused as well; SIGHUP forces a re-read.
        std::fs::write(pki.dir.path().join("client.crt"), "garbage").unwrap();
        assert!(matches!(
            &store.reload()[0].1,
            ReloadOutcome::Refused(TlsError::NoCertificate { .. })
        ));

        // The key completes the rotation.
        std::fs::write(pki.dir.path().join("client.crt"), &next.cert_pem).unwrap();
        std::fs::write(pki.dir.path().join("client.key"), &next.key_pem).unwrap();
        assert!(matches!(
            &store.reload()[0].1,
            ReloadOutcome::Rotated { .. }
        ));
        get(&client, address).await.unwrap();
        assert_eq!(
            seen.lock().unwrap().last().cloned().flatten(),
            Some(next.cert_der.clone())
        );
    });
    let text = logs.text();
    assert_eq!(
        text.matches("new client certificate refused").count(),
        2,
        "{text}"
    );
    assert!(
        text.contains("the private key does not match the certificate CN=payymo next"),
        "{text}"
    );
    assert!(!text.contains("PRIVATE KEY"));
}

#[tokio::test]
async fn the_watcher_picks_up_a_rotation_on_its_own() {
    let pki = MutualTls::new();
    let first = pki.client_ca.leaf(&Leaf::client("first"));
    pki.write_client(&first);
    let store = Arc::new(CertificateStore::new(ManualClock::at(Utc::now())));
    let identity = store.load_identity(pki.source()).unwrap();
    let watcher = store.spawn_watcher(Duration::from_millis(20));
    let second = pki.client_ca.leaf(&Leaf::client("second"));
    pki.write_client(&second);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while identity.current().certificate().subject != "CN=second" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the rotation was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    watcher.abort();
}

#[test]
fn builders_with_a_private_root_or_the_bundled_mozilla_roots_build() {
    let private = ServerRoots::Custom(TrustRoots::from_pem(Ca::new("x").pem().as_bytes()).unwrap());
    assert!(
        OutboundClientBuilder::new("s")
            .server_roots(private)
            .build()
            .is_ok()
    );
    assert!(
        OutboundClientBuilder::new("s")
            .server_roots(ServerRoots::Mozilla)
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn a_service_directory_is_wired_and_its_pins_rotate_without_a_restart() {
    let server_ca = Ca::new("Bank Server CA");
    let client_ca = Ca::new("Bank Client CA");
    let server = server_ca.leaf(&Leaf::server());
    let client_cert = client_ca.leaf(&Leaf::client("payymo"));
    let (address, seen) = serve(
        vec![server.cert_der.clone()],
        server.key_der(),
        Some(&client_ca),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, contents: &str| {
        let staged = dir.path().join(format!(".{name}.new"));
        std::fs::write(&staged, contents).unwrap();
        std::fs::rename(&staged, dir.path().join(name)).unwrap();
    };
    write("client.crt", &client_cert.cert_pem);
    write("client.key", &client_cert.key_pem);
    write("ca.crt", &client_ca.pem());
    write("server-ca.crt", &server_ca.pem());
    let old_key = server_ca.leaf(&Leaf::server());
    write(
        "pins.txt",
        &format!("# the key before the rotation\n{}\n", pin_of(&old_key)),
    );

    let store = Arc::new(CertificateStore::new(ManualClock::at(Utc::now())));
    let client = store
        .client_for_dir("bank", dir.path())
        .unwrap()
        .timeouts(Duration::from_secs(5), Duration::from_secs(5))
        .build()
        .unwrap();
    assert!(pin_mismatch_in(&get(&client, address).await.unwrap_err()).is_some());

    // A broken pins file is refused and the old pins stay.
    write("pins.txt", "not a pin\n");
    let outcomes = store.reload_changed();
    assert!(
        outcomes.contains(&(
            "bank".to_owned(),
            ReloadOutcome::Refused(TlsError::InvalidPin)
        )),
        "{outcomes:?}"
    );
    assert!(get(&client, address).await.is_err());

    write(
        "pins.txt",
        &format!("{}\n{}  # new\n", pin_of(&old_key), pin_of(&server)),
    );
    let outcomes = store.reload_changed();
    assert!(
        outcomes.contains(&("bank".to_owned(), ReloadOutcome::PinsReplaced { count: 2 })),
        "{outcomes:?}"
    );
    assert_eq!(get(&client, address).await.unwrap(), "ok");
    assert_eq!(
        seen.lock().unwrap().last().cloned().flatten(),
        Some(client_cert.cert_der.clone())
    );
    let kinds: Vec<_> = store.list().iter().map(|row| row.kind).collect();
    assert!(kinds.contains(&CertificateKind::Client) && kinds.contains(&CertificateKind::Root));
    assert!(kinds.contains(&CertificateKind::Server));
}
