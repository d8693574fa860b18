//! A tenant's WHMCS URL must not lead Payymo into this machine or a private network. Production's
//! WHMCS client resolves names through the public-only resolver: a name that resolves to a
//! loopback address is refused at connection time, even though a WHMCS answers there; the
//! development client reaches it.

#![expect(
    clippy::expect_used,
    reason = "a test that cannot arrange its precondition must fail loudly"
)]

use payymo_adapter_whmcs::fake::FakeWhmcs;
use payymo_domain::money::Currency;
use payymo_ports::invoice_ledger::LedgerError;
use payymo_ports::ledger_connector::LedgerCredentials;
use secrecy::SecretString;

const IDENT: &str = "ssrf-ident";
const SECRET: &str = "ssrf-secret-0042";

async fn verify(public_only: bool, base_url: &str) -> Result<(), LedgerError> {
    let ledger = payymo_api::wiring::whmcs_connector(public_only)
        .expect("the WHMCS connector")
        .connect(&LedgerCredentials {
            base_url: base_url.to_owned(),
            identifier: IDENT.to_owned(),
            secret: SecretString::from(SECRET),
            default_currency: Currency::EUR,
        })
        .expect("a ledger client");
    ledger.verify_credentials().await
}

#[tokio::test]
async fn a_name_resolving_to_this_machine_is_refused_in_production_and_reached_in_development() {
    let whmcs = FakeWhmcs::start(IDENT, SECRET).await;
    // The fake listens on 127.0.0.1; reach it by a name instead of the address.
    let by_name = whmcs.base_url().replace("127.0.0.1", "localhost");
    assert!(by_name.contains("localhost"), "{by_name}");

    verify(false, &by_name)
        .await
        .expect("development reaches a local WHMCS");
    let requests = whmcs.request_count();

    let refused = verify(true, &by_name)
        .await
        .expect_err("production must not reach this machine");
    assert!(
        matches!(refused, LedgerError::Unavailable { .. }),
        "{refused:?}"
    );
    assert_eq!(
        whmcs.request_count(),
        requests,
        "no request reached the local WHMCS"
    );
}
