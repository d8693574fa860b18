//! A test PKI made at test time with rcgen, a hand-moved clock and a local TLS server.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use payymo_ports::clock::Clock;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A clock that stands still until the test moves it.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn at(now: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self(Mutex::new(now)))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().unwrap() = now;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn set_validity(params: &mut CertificateParams, from: DateTime<Utc>, to: DateTime<Utc>) {
    let day = |at: DateTime<Utc>| {
        rcgen::date_time_ymd(
            at.year(),
            u8::try_from(at.month()).unwrap(),
            u8::try_from(at.day()).unwrap(),
        )
    };
    params.not_before = day(from);
    params.not_after = day(to);
}

/// A certificate authority.
pub struct Ca {
    pub issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(
            &mut params,
            Utc::now() - TimeDelta::days(365),
            Utc::now() + TimeDelta::days(3650),
        );
        Self {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    /// An intermediate CA signed by this one.
    pub fn intermediate(&self, name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(
            &mut params,
            Utc::now() - TimeDelta::days(365),
            Utc::now() + TimeDelta::days(3650),
        );
        Self {
            issuer: CertifiedIssuer::signed_by(params, KeyPair::generate().unwrap(), &self.issuer)
                .unwrap(),
        }
    }

    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A leaf certificate.
    pub fn leaf(&self, spec: &Leaf) -> Issued {
        let mut params = CertificateParams::new(spec.names.clone()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, spec.common_name.clone());
        params.extended_key_usages.clone_from(&spec.usages);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        set_validity(&mut params, spec.not_before, spec.not_after);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// What a leaf should look like.
pub struct Leaf {
    pub common_name: String,
    pub names: Vec<String>,
    pub usages: Vec<ExtendedKeyUsagePurpose>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl Leaf {
    pub fn server() -> Self {
        Self {
            common_name: "bank api".to_owned(),
            names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            usages: vec![ExtendedKeyUsagePurpose::ServerAuth],
            not_before: Utc::now() - TimeDelta::days(2),
            not_after: Utc::now() + TimeDelta::days(90),
        }
    }

    pub fn client(common_name: &str) -> Self {
        Self {
            common_name: common_name.to_owned(),
            names: vec![],
            usages: vec![ExtendedKeyUsagePurpose::ClientAuth],
            not_before: Utc::now() - TimeDelta::days(2),
            not_after: Utc::now() + TimeDelta::days(90),
        }
    }
}

/// An issued leaf with its key.
pub struct Issued {
    pub cert_pem: String,
    pub cert_der: CertificateDer<'static>,
    pub key_pem: String,
}

impl Issued {
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap()
    }
}

/// What the test server saw of each connection: the client certificate's DER, if any.
pub type Seen = Arc<Mutex<Vec<Option<CertificateDer<'static>>>>>;

/// A TLS server on 127.0.0.1:0 answering `200 ok` to every request and closing the connection.
/// `chain` is what it presents; with `client_ca` it requires a client certificate from that CA.
pub async fn serve(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_ca: Option<&Ca>,
) -> (SocketAddr, Seen) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.der()).unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = Arc::new(builder.with_single_cert(chain, key).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let record = record.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let peer = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first().cloned());
                record.lock().unwrap().push(peer);
                let mut request = Vec::new();
                let mut buffer = [0_u8; 1024];
                while !request.ends_with(b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (address, seen)
}

/// Everything logged while the guard lives.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || logs.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
