//! The Stripe gateway against a wiremock server that answers like Stripe: list envelopes with
//! `has_more`, error objects with their real statuses, rate limits and `Stripe-Should-Retry`.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers build fixed, known-good values"
)]

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use payymo_adapter_stripe::{RetryPolicy, STRIPE_API_VERSION, StripeClient, StripeGateway};
use payymo_domain::money::{Currency, Money};
use payymo_ports::payment_gateway::{
    CreatedRange, GatewayCredentials, GatewayError, GatewayPaymentStatus, GatewayRefundStatus,
    PaymentGateway, PayoutStatus,
};
use secrecy::SecretString;
use serde_json::Value;
use wiremock::matchers::{
    body_string, header, header_exists, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk_test_51RkPayymoTestKey9xQz";

fn fixture(name: &str) -> Value {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("request-id", "req_OkPayymo01")
        .set_body_json(fixture(name))
}

fn stripe_error(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("request-id", "req_ErrPayymo01")
        .set_body_json(fixture(&format!("errors/{name}")))
}

fn client(server: &MockServer) -> StripeClient {
    StripeClient::new(reqwest::Client::new(), &server.uri())
        .unwrap()
        .with_retry_policy(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(10),
        })
}

fn gateway(server: &MockServer) -> StripeGateway {
    StripeGateway::new(client(server))
}

fn credentials() -> GatewayCredentials {
    GatewayCredentials::new(SecretString::from(KEY))
}

fn range() -> CreatedRange {
    CreatedRange {
        from: DateTime::from_timestamp(1_772_000_000, 0).unwrap(),
        until: DateTime::from_timestamp(1_772_086_400, 0).unwrap(),
    }
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

/// Every request must carry the key, the pinned version and no idempotency key on GETs.
fn stripe_get(url_path: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(url_path))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("stripe-version", STRIPE_API_VERSION))
}

#[tokio::test]
async fn charges_are_listed_across_three_pages_with_the_created_filters() {
    let server = MockServer::start().await;
    let base = || {
        // The pages carry expanded objects: Stripe sends them only when asked.
        stripe_get("/v1/charges")
            .and(query_param("created[gte]", "1772000000"))
            .and(query_param("created[lt]", "1772086400"))
            .and(query_param("limit", "100"))
            .and(query_param("expand[]", "data.balance_transaction"))
            .and(query_param("expand[]", "data.payment_intent"))
            .and(query_param("expand[]", "data.customer"))
    };
    base()
        .and(query_param_is_missing("starting_after"))
        .respond_with(ok("charges_page_1.json"))
        .expect(1)
        .mount(&server)
        .await;
    base()
        .and(query_param("starting_after", "ch_3SxA0bLkD9v7hRt31f8Hw3Qd"))
        .respond_with(ok("charges_page_2.json"))
        .expect(1)
        .mount(&server)
        .await;
    base()
        .and(query_param("starting_after", "ch_3Sx9ydLkD9v7hRt33p7Dt6Wj"))
        .respond_with(ok("charges_page_3.json"))
        .expect(1)
        .mount(&server)
        .await;

    let payments = gateway(&server)
        .list_payments(&credentials(), range())
        .await
        .unwrap();

    let ids: Vec<&str> = payments.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "ch_3SxA1aLkD9v7hRt30k1Pq7Za",
            "ch_3SxA0bLkD9v7hRt31f8Hw3Qd",
            "ch_3Sx9zcLkD9v7hRt32d4Gu1Tg",
            "ch_3Sx9ydLkD9v7hRt33p7Dt6Wj",
            "ch_3Sx9xeLkD9v7hRt34m5Ar8Yl"
        ]
    );
    // Expanded balance transaction and payment intent.
    let first = &payments[0];
    assert_eq!(first.amount, eur(11_900));
    assert_eq!(first.fee, Some(eur(192)));
    assert_eq!(first.net, Some(eur(11_708)));
    assert_eq!(
        first.payment_intent.as_deref(),
        Some("pi_3SxA1aLkD9v7hRt30a9Kx2Nc")
    );
    assert_eq!(first.invoice_hint.as_deref(), Some("4711"));
    assert_eq!(
        first.description.as_deref(),
        Some("Payymo Hosting - Invoice #4711")
    );
    assert_eq!(first.status, GatewayPaymentStatus::Succeeded);
    assert_eq!(first.customer.as_deref(), Some("cus_T4mWq8Lz1Ab"));
    // The payer is the cardholder, not the customer id.
    assert_eq!(first.payer_name.as_deref(), Some("Erika Mustermann"));
    assert_eq!(
        first.balance_transaction.as_deref(),
        Some("txn_3SxA1aLkD9v7hRt30q2Lm4Vb")
    );
    assert_eq!(first.created.timestamp(), 1_772_003_600);
    // The invoice from the description; the partial refund.
    assert_eq!(payments[1].invoice_hint.as_deref(), Some("INV-2026-0042"));
    assert_eq!(payments[1].refunded_amount, eur(1000));
    // No cardholder name on the charge: the (expanded) customer's name.
    assert_eq!(
        payments[1].payer_name.as_deref(),
        Some("Mustermann Webdesign GmbH")
    );
    // Charge metadata, a dispute, a payment intent that was not expanded.
    assert_eq!(payments[2].invoice_hint.as_deref(), Some("4690"));
    assert!(payments[2].disputed);
    assert_eq!(
        payments[2].payment_intent.as_deref(),
        Some("pi_3Sx9zcLkD9v7hRt32w1Ey5Vi")
    );
    // A balance transaction that was not expanded: no fee known.
    assert_eq!(payments[3].fee, None);
    assert_eq!(
        payments[3].balance_transaction.as_deref(),
        Some("txn_3Sx9ydLkD9v7hRt33h2Bx7Xk")
    );
    assert_eq!(payments[3].customer, None);
    assert_eq!(payments[3].payer_name.as_deref(), Some("Erika Mustermann"));
    // Neither a cardholder name nor a customer's (it was deleted): no name, never the id.
    assert_eq!(payments[2].customer.as_deref(), Some("cus_T4mGone7Qa2"));
    assert_eq!(payments[2].payer_name, None);
    assert_eq!(payments[4].status, GatewayPaymentStatus::Failed);
    assert_eq!(payments[4].balance_transaction, None);

    let expands: Vec<String> = server.received_requests().await.unwrap()[0]
        .url
        .query_pairs()
        .filter(|(k, _)| k == "expand[]")
        .map(|(_, v)| v.into_owned())
        .collect();
    let asked = [
        "data.balance_transaction",
        "data.payment_intent",
        "data.customer",
    ];
    assert_eq!(expands, asked);
}

#[tokio::test]
async fn zero_decimal_and_special_case_currencies_become_iso_money() {
    let server = MockServer::start().await;
    stripe_get("/v1/charges")
        .respond_with(ok("charges_jpy_isk.json"))
        .expect(1)
        .mount(&server)
        .await;
    let payments = gateway(&server)
        .list_payments(&credentials(), range())
        .await
        .unwrap();
    let jpy = &payments[0];
    assert_eq!(jpy.amount, Money::from_minor(5000, Currency::JPY));
    assert_eq!(jpy.amount.to_decimal_string(), "5000");
    assert_eq!(jpy.fee, Some(Money::from_minor(180, Currency::JPY)));
    assert_eq!(jpy.net, Some(Money::from_minor(4820, Currency::JPY)));
    assert_eq!(jpy.invoice_hint.as_deref(), Some("4712"));
    // Stripe writes ISK with two always-zero decimals: 250000 is 2500 krónur.
    let isk = &payments[1];
    assert_eq!(isk.amount.to_decimal_string(), "2500");
    assert_eq!(isk.amount.currency().code(), "ISK");
}

#[tokio::test]
async fn a_payouts_balance_transactions_are_listed_with_the_payout_filter() {
    let server = MockServer::start().await;
    stripe_get("/v1/balance_transactions")
        .and(query_param("payout", "po_1SxPo1LkD9v7hRt3Qn4Ee6Dq"))
        .and(query_param_is_missing("created[gte]"))
        .respond_with(ok("balance_transactions_payout.json"))
        .expect(1)
        .mount(&server)
        .await;
    let transactions = gateway(&server)
        .payout_balance_transactions(&credentials(), "po_1SxPo1LkD9v7hRt3Qn4Ee6Dq")
        .await
        .unwrap();
    assert_eq!(transactions.len(), 5);
    assert!(
        transactions
            .iter()
            .all(|t| t.payout.as_deref() == Some("po_1SxPo1LkD9v7hRt3Qn4Ee6Dq"))
    );
    let payout = &transactions[0];
    assert_eq!(payout.kind, "payout");
    assert_eq!(payout.amount, eur(-15_108));
    let charge = &transactions[1];
    assert_eq!(
        (charge.amount, charge.fee, charge.net),
        (eur(11_900), eur(192), eur(11_708))
    );
    assert_eq!(charge.reporting_category, "charge");
    assert_eq!(
        charge.source.as_deref(),
        Some("ch_3SxA1aLkD9v7hRt30k1Pq7Za")
    );
    assert_eq!(transactions[3].kind, "refund");
    assert_eq!(transactions[4].reporting_category, "fee");
    assert_eq!(transactions[4].source, None);
    // The payout's transactions add up to what it sent to the bank.
    let carried = transactions[1..]
        .iter()
        .try_fold(eur(0), |sum, t| sum.checked_add(t.net))
        .unwrap();
    assert_eq!(carried, eur(15_108));
}

#[tokio::test]
async fn payouts_refunds_disputes_and_balance_transactions_are_read() {
    let server = MockServer::start().await;
    for (url_path, name) in [
        ("/v1/payouts", "payouts.json"),
        ("/v1/refunds", "refunds.json"),
        ("/v1/disputes", "disputes.json"),
        (
            "/v1/balance_transactions",
            "balance_transactions_payout.json",
        ),
    ] {
        stripe_get(url_path)
            .and(query_param("created[gte]", "1772000000"))
            .and(query_param("created[lt]", "1772086400"))
            .respond_with(ok(name))
            .expect(1)
            .mount(&server)
            .await;
    }
    let gateway = gateway(&server);
    let payouts = gateway.list_payouts(&credentials(), range()).await.unwrap();
    assert_eq!(payouts.len(), 3);
    assert_eq!(payouts[0].amount, eur(15_108));
    assert_eq!(payouts[0].status, PayoutStatus::Paid);
    assert_eq!(
        payouts[0].arrival_date,
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
    );
    assert!(payouts[0].automatic);
    assert_eq!(payouts[1].status, PayoutStatus::Failed);
    assert_eq!(payouts[1].failure_code.as_deref(), Some("account_closed"));
    assert_eq!(payouts[2].status, PayoutStatus::InTransit);

    let refunds = gateway.list_refunds(&credentials(), range()).await.unwrap();
    assert_eq!(refunds[0].amount, eur(1000));
    assert_eq!(refunds[0].status, GatewayRefundStatus::Succeeded);
    assert_eq!(
        refunds[0].charge.as_deref(),
        Some("ch_3SxA0bLkD9v7hRt31f8Hw3Qd")
    );
    assert_eq!(refunds[0].reason.as_deref(), Some("requested_by_customer"));

    let disputes = gateway
        .list_disputes(&credentials(), range())
        .await
        .unwrap();
    assert_eq!(disputes[0].amount, eur(2500));
    assert_eq!(disputes[0].status, "needs_response");
    assert_eq!(disputes[0].reason, "fraudulent");

    let transactions = gateway
        .list_balance_transactions(&credentials(), range())
        .await
        .unwrap();
    assert_eq!(transactions.len(), 5);
    // Without the payout filter only the payout's own transaction names it.
    assert_eq!(
        transactions[0].payout.as_deref(),
        Some("po_1SxPo1LkD9v7hRt3Qn4Ee6Dq")
    );
    assert_eq!(transactions[1].payout, None);
}

#[tokio::test]
async fn a_key_is_verified_with_the_balance_and_the_account() {
    let server = MockServer::start().await;
    stripe_get("/v1/balance")
        .respond_with(ok("balance.json"))
        .expect(1)
        .mount(&server)
        .await;
    stripe_get("/v1/account")
        .respond_with(ok("account.json"))
        .expect(1)
        .mount(&server)
        .await;
    let account = gateway(&server)
        .verify_credentials(&credentials())
        .await
        .unwrap();
    assert_eq!(account.account_id.as_deref(), Some("acct_1Rk2mNLkD9v7hRt3"));
    assert!(!account.livemode);
}

#[tokio::test]
async fn a_restricted_key_that_may_not_read_the_account_still_verifies() {
    let server = MockServer::start().await;
    stripe_get("/v1/balance")
        .respond_with(ok("balance.json"))
        .mount(&server)
        .await;
    stripe_get("/v1/account")
        .respond_with(stripe_error(403, "permission_403.json"))
        .expect(1)
        .mount(&server)
        .await;
    let account = gateway(&server)
        .verify_credentials(&credentials())
        .await
        .unwrap();
    assert_eq!(account.account_id, None);
}

#[tokio::test]
async fn a_restricted_key_without_the_balance_scope_is_a_permission_error() {
    let server = MockServer::start().await;
    stripe_get("/v1/balance")
        .respond_with(stripe_error(403, "permission_403.json"))
        .expect(1)
        .mount(&server)
        .await;
    let error = gateway(&server)
        .verify_credentials(&credentials())
        .await
        .unwrap_err();
    assert_eq!(error, GatewayError::Permission { code: None });
    assert!(!error.to_string().contains("rk_test"));
}

#[tokio::test]
async fn an_invalid_key_is_refused_at_once_without_retry() {
    let server = MockServer::start().await;
    stripe_get("/v1/balance")
        .respond_with(stripe_error(401, "invalid_api_key_401.json"))
        .expect(1)
        .mount(&server)
        .await;
    let error = gateway(&server)
        .verify_credentials(&credentials())
        .await
        .unwrap_err();
    assert_eq!(error, GatewayError::InvalidKey);
    assert!(error.needs_new_credentials());
    assert!(!format!("{error} {error:?}").contains("sk_test"));
}

#[tokio::test]
async fn an_unknown_payout_is_resource_missing() {
    let server = MockServer::start().await;
    stripe_get("/v1/balance_transactions")
        .respond_with(stripe_error(404, "resource_missing_404.json"))
        .expect(1)
        .mount(&server)
        .await;
    let error = gateway(&server)
        .payout_balance_transactions(&credentials(), "po_1SxNopeLkD9v7hRt3Aa0Bb1C")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        GatewayError::ResourceMissing {
            param: Some("payout".to_owned())
        }
    );
}

#[tokio::test]
async fn an_invalid_request_names_the_parameter_and_is_not_retried() {
    let server = MockServer::start().await;
    stripe_get("/v1/payouts")
        .respond_with(stripe_error(400, "invalid_request_400.json"))
        .expect(1)
        .mount(&server)
        .await;
    let error = gateway(&server)
        .list_payouts(&credentials(), range())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        GatewayError::InvalidRequest {
            status: 400,
            code: Some("parameter_invalid_integer".to_owned()),
            param: Some("limit".to_owned())
        }
    );
}

#[tokio::test]
async fn a_rate_limit_is_retried_and_then_succeeds() {
    let server = MockServer::start().await;
    stripe_get("/v1/payouts")
        .respond_with(
            stripe_error(429, "rate_limit_429.json").insert_header("stripe-should-retry", "true"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    stripe_get("/v1/payouts")
        .respond_with(ok("payouts.json"))
        .expect(1)
        .mount(&server)
        .await;
    let payouts = gateway(&server)
        .list_payouts(&credentials(), range())
        .await
        .unwrap();
    assert_eq!(payouts.len(), 3);
}

#[tokio::test]
async fn stripe_should_retry_false_is_obeyed() {
    let server = MockServer::start().await;
    stripe_get("/v1/payouts")
        .respond_with(
            stripe_error(429, "rate_limit_429.json").insert_header("stripe-should-retry", "false"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let error = gateway(&server)
        .list_payouts(&credentials(), range())
        .await
        .unwrap_err();
    assert_eq!(error, GatewayError::RateLimited);
}

#[tokio::test]
async fn a_lock_timeout_is_retried_until_the_lock_is_free() {
    let server = MockServer::start().await;
    stripe_get("/v1/refunds")
        .respond_with(stripe_error(429, "lock_timeout_429.json"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    stripe_get("/v1/refunds")
        .respond_with(ok("refunds.json"))
        .expect(1)
        .mount(&server)
        .await;
    let refunds = gateway(&server)
        .list_refunds(&credentials(), range())
        .await
        .unwrap();
    assert_eq!(refunds.len(), 1);
}

#[tokio::test]
async fn a_lasting_lock_timeout_is_reported_as_such() {
    let server = MockServer::start().await;
    stripe_get("/v1/refunds")
        .respond_with(stripe_error(429, "lock_timeout_429.json"))
        .expect(3)
        .mount(&server)
        .await;
    let error = gateway(&server)
        .list_refunds(&credentials(), range())
        .await
        .unwrap_err();
    assert_eq!(error, GatewayError::LockTimeout);
    assert!(error.is_transient());
}

#[tokio::test]
async fn a_server_error_is_retried_then_given_up() {
    let server = MockServer::start().await;
    stripe_get("/v1/disputes")
        .respond_with(stripe_error(500, "api_error_500.json"))
        .expect(3)
        .mount(&server)
        .await;
    let error = gateway(&server)
        .list_disputes(&credentials(), range())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        GatewayError::Api {
            status: 500,
            code: None
        }
    );
}

#[tokio::test]
async fn a_server_error_that_stripe_says_not_to_retry_is_not_retried() {
    let server = MockServer::start().await;
    stripe_get("/v1/disputes")
        .respond_with(
            stripe_error(500, "api_error_500.json").insert_header("stripe-should-retry", "false"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let error = gateway(&server)
        .list_disputes(&credentials(), range())
        .await
        .unwrap_err();
    assert!(matches!(error, GatewayError::Api { status: 500, .. }));
}

#[tokio::test]
async fn a_page_that_claims_more_but_is_empty_is_refused() {
    let server = MockServer::start().await;
    stripe_get("/v1/payouts")
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "object": "list", "data": [], "has_more": true, "url": "/v1/payouts"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let error = gateway(&server)
        .list_payouts(&credentials(), range())
        .await
        .unwrap_err();
    assert!(matches!(error, GatewayError::UnexpectedResponse { .. }));
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_after_retries() {
    // A port nothing listens on (wiremock keeps dropped servers alive in a pool).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = StripeClient::new(reqwest::Client::new(), &uri)
        .unwrap()
        .with_retry_policy(RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        });
    let error = StripeGateway::new(client)
        .verify_credentials(&credentials())
        .await
        .unwrap_err();
    assert!(
        matches!(error, GatewayError::Unavailable { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_post_is_form_encoded_with_an_idempotency_key_kept_across_retries() {
    let server = MockServer::start().await;
    let expected_body =
        "charge=ch_3SxA1aLkD9v7hRt30k1Pq7Za&amount=500&metadata%5Bpayymo_allocation%5D=alloc_81";
    let post = || {
        Mock::given(method("POST"))
            .and(path("/v1/refunds"))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .and(header("stripe-version", STRIPE_API_VERSION))
            .and(header("idempotency-key", "refund-alloc_81"))
            .and(header("content-type", "application/x-www-form-urlencoded"))
            .and(body_string(expected_body))
    };
    post()
        .respond_with(stripe_error(500, "api_error_500.json"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    post()
        .respond_with(ok("refund_created.json"))
        .expect(1)
        .mount(&server)
        .await;
    let form = [
        ("charge", "ch_3SxA1aLkD9v7hRt30k1Pq7Za"),
        ("amount", "500"),
        ("metadata[payymo_allocation]", "alloc_81"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let refund: Value = client(&server)
        .post_form(
            &credentials(),
            "/v1/refunds",
            &form,
            Some("refund-alloc_81"),
        )
        .await
        .unwrap();
    assert_eq!(refund["id"], "re_3SxNewLkD9v7hRt39n2Kk3Lv");
}

#[tokio::test]
async fn a_concurrent_use_of_the_idempotency_key_is_retried() {
    let server = MockServer::start().await;
    let conflict = serde_json::json!({"error": {
        "message": "There is currently another in-progress request using this Stripe-Idempotency-Key (that is, another request with the same key). Please retry this request later.",
        "type": "idempotency_error"
    }});
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(header("idempotency-key", "refund-alloc_82"))
        .respond_with(ResponseTemplate::new(409).set_body_json(conflict))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(header("idempotency-key", "refund-alloc_82"))
        .respond_with(ok("refund_created.json").insert_header("idempotent-replayed", "true"))
        .expect(1)
        .mount(&server)
        .await;
    let refund: Value = client(&server)
        .post_form(&credentials(), "/v1/refunds", &[], Some("refund-alloc_82"))
        .await
        .unwrap();
    assert_eq!(refund["object"], "refund");
}

#[tokio::test]
async fn a_post_without_a_given_key_gets_a_random_one() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(header_exists("idempotency-key"))
        .respond_with(ok("refund_created.json"))
        .expect(2)
        .mount(&server)
        .await;
    let client = client(&server);
    for _ in 0..2 {
        let _: Value = client
            .post_form(&credentials(), "/v1/refunds", &[], None)
            .await
            .unwrap();
    }
    let keys: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers["idempotency-key"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys[0].len(), 32);
    assert_ne!(keys[0], keys[1]);
}

#[tokio::test]
async fn a_reused_idempotency_key_with_other_parameters_is_an_idempotency_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(stripe_error(400, "idempotency_400.json"))
        .expect(1)
        .mount(&server)
        .await;
    let error = client(&server)
        .post_form::<Value>(
            &credentials(),
            "/v1/refunds",
            &[("amount".to_owned(), "600".to_owned())],
            Some("refund-alloc_81"),
        )
        .await
        .unwrap_err();
    assert_eq!(error, GatewayError::Idempotency { status: 400 });
}

#[tokio::test]
async fn a_connected_account_is_sent_as_stripe_account() {
    let server = MockServer::start().await;
    stripe_get("/v1/balance")
        .and(header("stripe-account", "acct_1Conn3ctedPayymo"))
        .respond_with(ok("balance.json"))
        .expect(1)
        .mount(&server)
        .await;
    stripe_get("/v1/account")
        .and(header("stripe-account", "acct_1Conn3ctedPayymo"))
        .respond_with(ok("account.json"))
        .expect(1)
        .mount(&server)
        .await;
    let mut credentials = credentials();
    credentials.connected_account = Some("acct_1Conn3ctedPayymo".to_owned());
    gateway(&server)
        .verify_credentials(&credentials)
        .await
        .unwrap();
}

#[test]
fn the_range_helper_is_a_day() {
    let r = range();
    assert_eq!((r.until - r.from).num_hours(), 24);
    let _: DateTime<Utc> = r.from;
}

#[tokio::test]
async fn one_charge_is_read_with_its_refunded_total() {
    let server = MockServer::start().await;
    stripe_get("/v1/charges/ch_3SxA1aLkD9v7hRt30k1Pq7Za")
        .and(query_param("expand[]", "balance_transaction"))
        .and(query_param("expand[]", "payment_intent"))
        .and(query_param("expand[]", "customer"))
        .respond_with(ok("charge_partly_refunded.json"))
        .expect(1)
        .mount(&server)
        .await;
    let payment = gateway(&server)
        .get_payment(&credentials(), "ch_3SxA1aLkD9v7hRt30k1Pq7Za")
        .await
        .unwrap();
    assert_eq!(payment.id, "ch_3SxA1aLkD9v7hRt30k1Pq7Za");
    assert_eq!(
        payment.charge.as_deref(),
        Some("ch_3SxA1aLkD9v7hRt30k1Pq7Za")
    );
    assert_eq!(payment.amount, eur(11_900));
    assert_eq!(payment.refunded_amount, eur(4_000));
    assert_eq!(payment.fee, Some(eur(192)));
    assert_eq!(payment.payer_name.as_deref(), Some("Erika Mustermann"));
    assert_eq!(payment.customer.as_deref(), Some("cus_T4mWq8Lz1Ab"));
}

#[tokio::test]
async fn an_unknown_charge_is_resource_missing_and_a_malformed_id_is_never_sent() {
    let server = MockServer::start().await;
    stripe_get("/v1/charges/ch_3SxNopeLkD9v7hRt3")
        .respond_with(stripe_error(404, "resource_missing_404.json"))
        .expect(1)
        .mount(&server)
        .await;
    let gateway = gateway(&server);
    let missing = gateway
        .get_payment(&credentials(), "ch_3SxNopeLkD9v7hRt3")
        .await
        .unwrap_err();
    assert!(
        matches!(missing, GatewayError::ResourceMissing { .. }),
        "{missing:?}"
    );
    for id in [
        "ch_../../v1/account",
        "ch_a/b",
        "pi_3SxA1a",
        "",
        "ch_x?expand=y",
    ] {
        let refused = gateway.get_payment(&credentials(), id).await.unwrap_err();
        assert!(
            matches!(refused, GatewayError::InvalidRequest { .. }),
            "{id}: {refused:?}"
        );
    }
}
