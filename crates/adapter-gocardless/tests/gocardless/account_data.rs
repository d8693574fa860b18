//! Accounts, balances and transactions against a mock GoCardless: parsing, the booked/pending
//! split, de-duplication keys, rate-limit budgets and the errors account calls meet.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use std::time::Duration;

use crate::common::{
    ACCOUNT_ID, account_answer, answer, authenticated, bearer, first_access, fixture,
};
use chrono::NaiveDate;
use payymo_adapter_gocardless::HASH_KEY_PREFIX;
use payymo_domain::money::{Currency, Money};
use payymo_ports::bank_feed::{
    AccountStatus, BankFeed, BankFeedError, RateLimitInfo, RateLimitScope,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TRANSACTIONS_PATH: &str = "/accounts/4e1b7c9d-2f6a-4d3e-8a5b-1c0f9e7d6a52/transactions/";

async fn serve_transactions(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(TRANSACTIONS_PATH))
        .and(bearer(&first_access()))
        .respond_with(response)
        .expect(1)
        .mount(server)
        .await;
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[tokio::test]
async fn booked_and_pending_rows_are_split_and_mapped() {
    let (server, client, _clock) = authenticated().await;
    serve_transactions(
        &server,
        account_answer(200, &fixture("transactions.json"), 3, 86_400),
    )
    .await;

    let result = client
        .get_transactions(ACCOUNT_ID, None, None)
        .await
        .unwrap();

    assert_eq!(result.booked.len(), 3);
    assert_eq!(result.pending.len(), 1);
    assert!(result.skipped.is_empty());
    assert!(result.booked.iter().all(|row| !row.pending));

    let credit = &result.booked[0];
    assert_eq!(credit.provider_id.as_deref(), Some("20261118-0042-1"));
    assert_eq!(credit.dedup_key, "20261118-0042-1");
    assert_eq!(credit.amount, Money::from_minor(12_000, Currency::GBP));
    assert_eq!(credit.counterparty_name, "ACME WIDGETS LTD");
    assert_eq!(
        credit.counterparty_iban.as_deref(),
        Some("GB29NWBK60161331926819")
    );
    assert_eq!(credit.remittance, "INV-2026-0153");
    assert_eq!(credit.end_to_end_id.as_deref(), Some("E2E-ACME-0153"));
    assert_eq!(
        credit.bank_transaction_code.as_deref(),
        Some("PMNT-RCDT-ESCT")
    );
    assert_eq!(
        credit.proprietary_bank_transaction_code.as_deref(),
        Some("FASTER_PAYMENT")
    );
    let domain = credit.to_transaction().unwrap();
    assert_eq!(domain.booking_date, date(2026, 11, 18));
    assert!(domain.is_credit());

    // A blank transactionId falls back to the internal id; the counterparty of a debit is the
    // creditor; the unstructured array is joined; the structured reference is kept.
    let debit = &result.booked[1];
    assert_eq!(
        debit.provider_id.as_deref(),
        Some("1b3d5f7a9c0e2a4c6e8a0c2e4a6c8e0a")
    );
    assert_eq!(debit.amount, Money::from_minor(-4999, Currency::GBP));
    assert_eq!(debit.counterparty_name, "Cloud Supplies plc");
    assert_eq!(
        debit.counterparty_iban.as_deref(),
        Some("GB82WEST12345698765432")
    );
    assert_eq!(debit.remittance, "Monthly plan Order 55812");
    assert_eq!(debit.reference.as_deref(), Some("RF18539007547034"));

    // No ids at all: a hash key; remittance from additionalInformation; the booking time.
    let card = &result.booked[2];
    assert_eq!(card.provider_id, None);
    assert!(card.dedup_key.starts_with(HASH_KEY_PREFIX));
    assert_eq!(card.remittance, "Card payment 4417");
    assert_eq!(card.entry_reference.as_deref(), Some("STMT-7781"));
    assert_eq!(
        card.booking_date_time.unwrap().to_rfc3339(),
        "2026-11-16T14:03:11.516+00:00"
    );
    assert_eq!(card.value_date, None);

    let pending = &result.pending[0];
    assert!(pending.pending);
    assert_eq!(pending.provider_id, None);
    assert!(pending.dedup_key.starts_with(HASH_KEY_PREFIX));
    assert_eq!(pending.amount, Money::from_minor(7550, Currency::GBP));
    assert_eq!(pending.booking_date, None);
    assert_eq!(
        pending.to_transaction().unwrap().booking_date,
        date(2026, 11, 21)
    );
    assert_eq!(pending.counterparty_name, "Jane Customer");
}

#[tokio::test]
async fn the_account_budget_is_read_from_the_rate_limit_headers() {
    let (server, client, _clock) = authenticated().await;
    serve_transactions(
        &server,
        account_answer(200, &fixture("transactions_empty.json"), 2, 43_210),
    )
    .await;

    let result = client
        .get_transactions(ACCOUNT_ID, None, None)
        .await
        .unwrap();

    assert_eq!(
        result.rate_limits.account,
        Some(RateLimitInfo {
            limit: Some(4),
            remaining: Some(2),
            reset: Some(Duration::from_secs(43_210)),
        })
    );
    assert_eq!(
        result.rate_limits.general,
        Some(RateLimitInfo {
            limit: Some(100),
            remaining: Some(99),
            reset: Some(Duration::from_secs(59)),
        })
    );
}

#[tokio::test]
async fn empty_transaction_lists_are_empty_results() {
    let (server, client, _clock) = authenticated().await;
    serve_transactions(
        &server,
        account_answer(200, &fixture("transactions_empty.json"), 3, 86_400),
    )
    .await;

    let result = client
        .get_transactions(ACCOUNT_ID, None, None)
        .await
        .unwrap();
    assert!(result.booked.is_empty() && result.pending.is_empty() && result.skipped.is_empty());
}

#[tokio::test]
async fn the_date_range_is_sent_as_query_parameters() {
    let (server, client, _clock) = authenticated().await;
    Mock::given(method("GET"))
        .and(path(TRANSACTIONS_PATH))
        .and(query_param("date_from", "2026-11-01"))
        .and(query_param("date_to", "2026-11-21"))
        .respond_with(account_answer(
            200,
            &fixture("transactions_empty.json"),
            3,
            86_400,
        ))
        .expect(1)
        .mount(&server)
        .await;

    client
        .get_transactions(
            ACCOUNT_ID,
            Some(date(2026, 11, 1)),
            Some(date(2026, 11, 21)),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn currency_exchange_is_read_as_an_object() {
    let (server, client, _clock) = authenticated().await;
    serve_transactions(
        &server,
        account_answer(200, &fixture("transactions.json"), 3, 86_400),
    )
    .await;

    let result = client
        .get_transactions(ACCOUNT_ID, None, None)
        .await
        .unwrap();
    let exchange = &result.booked[2].currency_exchange;
    assert_eq!(exchange.len(), 1);
    assert_eq!(exchange[0].source_currency.as_deref(), Some("USD"));
    assert_eq!(exchange[0].target_currency.as_deref(), Some("GBP"));
    assert_eq!(exchange[0].exchange_rate.as_deref(), Some("1.20961887"));
    assert_eq!(exchange[0].quotation_date, Some(date(2026, 11, 16)));
    assert_eq!(
        exchange[0].instructed_amount,
        Some(Money::from_minor(-4000, Currency::USD))
    );
}

#[tokio::test]
async fn currency_exchange_is_read_as_an_array() {
    let (server, client, _clock) = authenticated().await;
    serve_transactions(
        &server,
        account_answer(200, &fixture("transactions_fx_array.json"), 3, 86_400),
    )
    .await;

    let result = client
        .get_transactions(ACCOUNT_ID, None, None)
        .await
        .unwrap();
    let exchange = &result.booked[0].currency_exchange;
    assert_eq!(exchange.len(), 2);
    assert_eq!(exchange[0].exchange_rate.as_deref(), Some("0.9391"));
    assert_eq!(
        exchange[1].contract_identification.as_deref(),
        Some("FX-22871")
    );
    assert_eq!(
        result.booked[0].amount,
        Money::from_minor(-8512, Currency::EUR)
    );
}

/// A row without ids, booked, with extra fields that only some reads carry.
fn id_less_row(extra: &[(&str, Value)]) -> Value {
    let mut row = json!({
        "bookingDate": "2026-11-19",
        "valueDate": "2026-11-19",
        "transactionAmount": {"amount": "310.00", "currency": "GBP"},
        "debtorName": "Northwind Traders",
        "debtorAccount": {"iban": "GB94BARC10201530093459"},
        "remittanceInformationUnstructured": "INV-2026-0171",
        "entryReference": "STMT-7790"
    });
    for (field, value) in extra {
        row[*field] = value.clone();
    }
    row
}

#[tokio::test]
async fn the_dedup_key_is_stable_across_reads_and_ignores_fields_that_come_and_go() {
    let (server, client, _clock) = authenticated().await;
    let first_read = json!({"transactions": {
        "booked": [],
        "pending": [id_less_row(&[
            ("bookingDateTime", json!("2026-11-19T08:15:00Z")),
            ("proprietaryBankTransactionCode", json!("PENDING_CREDIT")),
            ("balanceAfterTransaction", json!({"balanceAmount": {"amount": "1.00", "currency": "GBP"}, "balanceType": "expected"})),
        ])]
    }});
    let second_read = json!({"transactions": {
        "booked": [id_less_row(&[("bankTransactionCode", json!("PMNT-RCDT-ESCT"))])],
        "pending": []
    }});
    let changed = json!({"transactions": {
        "booked": [id_less_row(&[("remittanceInformationUnstructured", json!("INV-2026-0172"))])],
        "pending": []
    }});
    for body in [&first_read, &second_read, &second_read, &changed] {
        Mock::given(method("GET"))
            .and(path(TRANSACTIONS_PATH))
            .respond_with(account_answer(200, body, 3, 86_400))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
    }

    let pending = client
        .get_transactions(ACCOUNT_ID, None, None)
        .await
        .unwrap();
    let booked = client
        .get_transactions(ACCOUNT_ID, None, None)
        .await
        .unwrap();
    let again = client
        .get_transactions(ACCOUNT_ID, None, None)
        .await
        .unwrap();
    let other = client
        .get_transactions(ACCOUNT_ID, None, None)
        .await
        .unwrap();

    let key = &booked.booked[0].dedup_key;
    assert!(key.starts_with(HASH_KEY_PREFIX));
    assert_eq!(&again.booked[0].dedup_key, key);
    assert_eq!(&pending.pending[0].dedup_key, key);
    assert_ne!(&other.booked[0].dedup_key, key);
}

#[tokio::test]
async fn an_unreadable_row_is_skipped_and_reported_without_losing_the_others() {
    let (server, client, _clock) = authenticated().await;
    let body = json!({"transactions": {
        "booked": [
            {"transactionId": "OK-1", "bookingDate": "2026-11-19",
             "transactionAmount": {"amount": "1.00", "currency": "GBP"}},
            {"transactionId": "BAD-1", "bookingDate": "2026-11-19",
             "transactionAmount": {"amount": "1.005", "currency": "GBP"}},
            {"transactionId": "BAD-2", "bookingDate": "2026-11-19",
             "transactionAmount": {"amount": "0.01", "currency": "XBT"}}
        ],
        "pending": []
    }});
    serve_transactions(&server, account_answer(200, &body, 3, 86_400)).await;

    let result = client
        .get_transactions(ACCOUNT_ID, None, None)
        .await
        .unwrap();
    assert_eq!(result.booked.len(), 1);
    let skipped: Vec<_> = result
        .skipped
        .iter()
        .map(|row| row.provider_id.as_deref().unwrap())
        .collect();
    assert_eq!(skipped, ["BAD-1", "BAD-2"]);
}

#[tokio::test]
async fn gocardless_own_429_waits_for_the_account_budget_reset() {
    let (server, client, _clock) = authenticated().await;
    serve_transactions(
        &server,
        account_answer(
            429,
            &fixture("errors/rate_limit_exceeded_429.json"),
            0,
            71_230,
        ),
    )
    .await;

    assert_eq!(
        client
            .get_transactions(ACCOUNT_ID, None, None)
            .await
            .unwrap_err(),
        BankFeedError::RateLimited {
            scope: RateLimitScope::GoCardless,
            retry_after: Some(Duration::from_secs(71_230)),
        }
    );
}

#[tokio::test]
async fn gocardless_general_429_waits_for_the_general_reset() {
    let (server, client, _clock) = authenticated().await;
    serve_transactions(
        &server,
        account_answer(
            429,
            &json!({"summary": "Rate limit exceeded",
                    "detail": "The rate limit for this resource is 100/minute. Please try again in 17 seconds",
                    "status_code": 429}),
            3,
            86_400,
        )
        .insert_header("HTTP_X_RATELIMIT_REMAINING", "0")
        .insert_header("HTTP_X_RATELIMIT_RESET", "17"),
    )
    .await;

    assert_eq!(
        client
            .get_transactions(ACCOUNT_ID, None, None)
            .await
            .unwrap_err(),
        BankFeedError::RateLimited {
            scope: RateLimitScope::GoCardless,
            retry_after: Some(Duration::from_secs(17)),
        }
    );
}

#[tokio::test]
async fn the_bank_own_daily_limit_is_told_apart() {
    let (server, client, _clock) = authenticated().await;
    serve_transactions(
        &server,
        account_answer(429, &fixture("errors/bank_daily_limit_429.json"), 3, 86_400),
    )
    .await;

    assert_eq!(
        client
            .get_transactions(ACCOUNT_ID, None, None)
            .await
            .unwrap_err(),
        BankFeedError::RateLimited {
            scope: RateLimitScope::Bank,
            retry_after: None,
        }
    );
}

#[tokio::test]
async fn an_expired_agreement_is_recognised_in_its_401_form() {
    let (server, client, _clock) = authenticated().await;
    serve_transactions(
        &server,
        answer(401, &fixture("errors/eua_expired_401.json")),
    )
    .await;

    let error = client
        .get_transactions(ACCOUNT_ID, None, None)
        .await
        .unwrap_err();
    assert_eq!(error, BankFeedError::AgreementExpired);
    assert!(error.needs_relink());
}

#[tokio::test]
async fn an_expired_agreement_is_recognised_in_its_older_400_form() {
    let (server, client, _clock) = authenticated().await;
    serve_transactions(
        &server,
        answer(400, &fixture("errors/eua_expired_legacy_400.json")),
    )
    .await;

    assert_eq!(
        client
            .get_transactions(ACCOUNT_ID, None, None)
            .await
            .unwrap_err(),
        BankFeedError::AgreementExpired
    );
}

#[tokio::test]
async fn access_revoked_at_the_bank_is_reported_as_expired_access() {
    let (server, client, _clock) = authenticated().await;
    serve_transactions(
        &server,
        answer(401, &fixture("errors/access_expired_401.json")),
    )
    .await;

    assert_eq!(
        client
            .get_transactions(ACCOUNT_ID, None, None)
            .await
            .unwrap_err(),
        BankFeedError::AccessExpired
    );
}

#[tokio::test]
async fn an_account_still_processing_is_a_transient_error() {
    let (server, client, _clock) = authenticated().await;
    serve_transactions(
        &server,
        answer(409, &fixture("errors/account_processing_409.json")),
    )
    .await;

    let error = client
        .get_transactions(ACCOUNT_ID, None, None)
        .await
        .unwrap_err();
    assert_eq!(error, BankFeedError::AccountProcessing);
    assert!(error.is_transient());
}

#[tokio::test]
async fn an_unknown_account_is_account_not_found() {
    let (server, client, _clock) = authenticated().await;
    serve_transactions(
        &server,
        answer(404, &fixture("errors/account_not_found_404.json")),
    )
    .await;

    assert_eq!(
        client
            .get_transactions(ACCOUNT_ID, None, None)
            .await
            .unwrap_err(),
        BankFeedError::AccountNotFound
    );
}

#[tokio::test]
async fn a_date_in_the_future_is_a_field_keyed_validation_error() {
    let (server, client, _clock) = authenticated().await;
    serve_transactions(
        &server,
        answer(
            400,
            &json!({
                "date_from": {"summary": "Date can't be in future",
                              "detail": "'2026-12-01' can't be greater than 2026-11-21. Specify correct date range"},
                "status_code": 400
            }),
        ),
    )
    .await;

    let error = client
        .get_transactions(ACCOUNT_ID, Some(date(2026, 12, 1)), None)
        .await
        .unwrap_err();
    let BankFeedError::Validation { errors } = error else {
        panic!("{error:?}")
    };
    assert_eq!(errors.keys().collect::<Vec<_>>(), ["date_from"]);
    assert!(errors["date_from"][0].starts_with("Date can't be in future: "));
}

#[tokio::test]
async fn a_server_failure_keeps_the_status_and_summary() {
    let (server, client, _clock) = authenticated().await;
    serve_transactions(
        &server,
        answer(500, &fixture("errors/server_error_500.json")),
    )
    .await;

    let error = client
        .get_transactions(ACCOUNT_ID, None, None)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        BankFeedError::Server {
            status: 500,
            summary: "Couldn't update account transactions".to_owned()
        }
    );
    assert!(error.is_transient());
}

#[tokio::test]
async fn a_slow_server_is_unavailable_after_the_timeout() {
    let (server, client, _clock) = authenticated().await;
    let client = client.with_request_timeout(Duration::from_millis(200));
    serve_transactions(
        &server,
        account_answer(200, &fixture("transactions_empty.json"), 3, 86_400)
            .set_delay(Duration::from_secs(2)),
    )
    .await;

    let error = client
        .get_transactions(ACCOUNT_ID, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, BankFeedError::Unavailable { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn account_metadata_details_and_balances_are_mapped() {
    let (server, client, _clock) = authenticated().await;
    let base = "/accounts/4e1b7c9d-2f6a-4d3e-8a5b-1c0f9e7d6a52";
    Mock::given(method("GET"))
        .and(path(format!("{base}/")))
        .respond_with(answer(200, &fixture("account_metadata.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{base}/details/")))
        .respond_with(account_answer(
            200,
            &fixture("account_details.json"),
            3,
            86_400,
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{base}/balances/")))
        .respond_with(account_answer(
            200,
            &fixture("account_balances.json"),
            1,
            600,
        ))
        .expect(1)
        .mount(&server)
        .await;

    let metadata = client.get_account(ACCOUNT_ID).await.unwrap();
    assert_eq!(metadata.status, AccountStatus::Ready);
    assert_eq!(metadata.iban.as_deref(), Some("GB33BUKB20201555555555"));
    assert_eq!(metadata.institution_id, "MONZO_MONZGB2L");
    assert_eq!(metadata.owner_name.as_deref(), Some("Harbour Hosting Ltd"));
    assert!(metadata.last_accessed.is_some());

    let details = client.get_account_details(ACCOUNT_ID).await.unwrap();
    assert_eq!(details.iban.as_deref(), Some("GB33BUKB20201555555555"));
    assert_eq!(details.name.as_deref(), Some("Business Current Account"));
    assert_eq!(details.currency, Some(Currency::GBP));
    assert_eq!(details.owner_name.as_deref(), Some("Harbour Hosting Ltd"));
    assert_eq!(details.rate_limits.account.unwrap().remaining, Some(3));

    let balances = client.get_balances(ACCOUNT_ID).await.unwrap();
    assert_eq!(balances.balances.len(), 2);
    assert_eq!(
        balances.balances[0].amount,
        Money::from_minor(1_842_507, Currency::GBP)
    );
    assert_eq!(balances.balances[0].balance_type, "interimAvailable");
    assert_eq!(
        balances.balances[0].reference_date,
        Some(date(2026, 11, 21))
    );
    assert_eq!(
        balances.balances[1].amount,
        Money::from_minor(-1240, Currency::GBP)
    );
    let budget = balances.rate_limits.account.unwrap();
    assert_eq!(budget.remaining, Some(1));
    assert_eq!(budget.reset, Some(Duration::from_mins(10)));
}

#[tokio::test]
async fn an_inactive_account_is_reported_on_details() {
    let (server, client, _clock) = authenticated().await;
    Mock::given(method("GET"))
        .and(path(
            "/accounts/4e1b7c9d-2f6a-4d3e-8a5b-1c0f9e7d6a52/details/",
        ))
        .respond_with(answer(
            401,
            &json!({"summary": "Couldn't update account details",
                    "detail": "Account has been deactivated or it no longer exists.",
                    "status_code": 401, "type": "AccountInactiveError"}),
        ))
        .expect(1)
        .mount(&server)
        .await;

    assert_eq!(
        client.get_account_details(ACCOUNT_ID).await.unwrap_err(),
        BankFeedError::AccountInactive
    );
}
