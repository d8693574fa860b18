//! Linking a bank against a mock GoCardless: institutions (cached), agreements (terms from the
//! institution's limits), requisitions (create, poll, delete) and their validation errors.

use crate::common;

use std::time::Duration;

use crate::common::{answer, authenticated, bearer, first_access, fixture};
use chrono::TimeDelta;
use payymo_adapter_gocardless::{DEFAULT_BASE_URL, GoCardlessClient, GoCardlessConfigError};
use payymo_domain::connection::BankConnectionStatus;
use payymo_ports::bank_feed::{
    AccessScope, BankFeed, BankFeedError, NewAgreement, NewRequisition, RateLimitScope,
    RequisitionStatus,
};
use secrecy::SecretString;
use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path, query_param};

const REQUISITION_PATH: &str = "/requisitions/c2f7a9e1-3b5d-4c8f-a1e6-7d9b0c2e4f61/";
const REQUISITION_ID: &str = "c2f7a9e1-3b5d-4c8f-a1e6-7d9b0c2e4f61";

fn agreement_request(history: Option<u32>, access: Option<u32>) -> NewAgreement {
    NewAgreement {
        institution_id: "MONZO_MONZGB2L".to_owned(),
        max_historical_days: history,
        access_valid_for_days: access,
        access_scope: Vec::new(),
    }
}

#[tokio::test]
async fn institutions_are_listed_with_integer_limits_and_cached() {
    let (server, client, clock) = authenticated().await;
    Mock::given(method("GET"))
        .and(path("/institutions/"))
        .and(query_param("country", "GB"))
        .and(bearer(&first_access()))
        .respond_with(answer(200, &fixture("institutions_gb.json")))
        .expect(1)
        .mount(&server)
        .await;

    let institutions = client.list_institutions("gb").await.unwrap();
    assert_eq!(institutions.len(), 3);
    let monzo = &institutions[0];
    assert_eq!(monzo.id, "MONZO_MONZGB2L");
    assert_eq!(monzo.name, "Monzo Bank");
    assert_eq!(monzo.bic.as_deref(), Some("MONZGB2L"));
    assert_eq!(monzo.transaction_total_days, 730);
    assert_eq!(monzo.max_access_valid_for_days, Some(180));
    assert_eq!(
        monzo.logo.as_deref(),
        Some("https://cdn-logos.gocardless.com/ais/MONZO_MONZGB2L.png")
    );
    assert_eq!(institutions[1].max_access_valid_for_days, None);
    assert_eq!(institutions[1].countries, ["GB", "IE", "LT"]);

    clock.advance(TimeDelta::hours(5));
    let again = client.list_institutions("GB").await.unwrap();
    assert_eq!(again, institutions);
}

#[tokio::test]
async fn the_institutions_cache_expires_after_its_ttl() {
    let (server, client, clock) = authenticated().await;
    let client = client.with_institutions_cache_ttl(Duration::from_hours(1));
    Mock::given(method("GET"))
        .and(path("/institutions/"))
        .and(query_param("country", "GB"))
        .respond_with(answer(200, &fixture("institutions_gb.json")))
        .expect(2)
        .mount(&server)
        .await;

    client.list_institutions("GB").await.unwrap();
    clock.advance(TimeDelta::minutes(61));
    client.list_institutions("GB").await.unwrap();
}

#[tokio::test]
async fn an_unsupported_country_is_a_field_keyed_validation_error() {
    let (server, client, _clock) = authenticated().await;
    Mock::given(method("GET"))
        .and(path("/institutions/"))
        .respond_with(answer(
            400,
            &fixture("errors/institutions_invalid_country_400.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let error = client.list_institutions("US").await.unwrap_err();
    let BankFeedError::Validation { errors } = error else {
        panic!("{error:?}")
    };
    assert_eq!(
        errors["country"],
        ["Invalid country choice.: US is not a valid choice."]
    );
}

#[tokio::test]
async fn an_unknown_institution_is_institution_not_found() {
    let (server, client, _clock) = authenticated().await;
    Mock::given(method("GET"))
        .and(path("/institutions/NOPE_BANK/"))
        .respond_with(answer(404, &fixture("errors/not_found_404.json")))
        .expect(1)
        .mount(&server)
        .await;

    assert_eq!(
        client.get_institution("NOPE_BANK").await.unwrap_err(),
        BankFeedError::InstitutionNotFound
    );
}

#[tokio::test]
async fn a_rate_limited_institutions_list_waits_for_the_general_reset() {
    let (server, client, _clock) = authenticated().await;
    Mock::given(method("GET"))
        .and(path("/institutions/"))
        .respond_with(
            answer(
                429,
                &json!({"summary": "Rate limit exceeded",
                        "detail": "The rate limit for this resource is 300/minute. Please try again in 23 seconds",
                        "status_code": 429}),
            )
            .insert_header("HTTP_X_RATELIMIT_REMAINING", "0")
            .insert_header("HTTP_X_RATELIMIT_RESET", "23"),
        )
        .expect(1)
        .mount(&server)
        .await;

    assert_eq!(
        client.list_institutions("GB").await.unwrap_err(),
        BankFeedError::RateLimited {
            scope: RateLimitScope::GoCardless,
            retry_after: Some(Duration::from_secs(23)),
        }
    );
}

#[tokio::test]
async fn an_agreement_without_days_takes_the_institution_limits() {
    let (server, client, _clock) = authenticated().await;
    Mock::given(method("GET"))
        .and(path("/institutions/MONZO_MONZGB2L/"))
        .respond_with(answer(200, &fixture("institution_monzo.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/agreements/enduser/"))
        .and(bearer(&first_access()))
        .and(body_json(json!({
            "institution_id": "MONZO_MONZGB2L",
            "max_historical_days": 730,
            "access_valid_for_days": 180,
            "access_scope": ["balances", "details", "transactions"]
        })))
        .respond_with(answer(201, &fixture("agreement_created.json")))
        .expect(1)
        .mount(&server)
        .await;

    let agreement = client
        .create_agreement(&agreement_request(None, None))
        .await
        .unwrap();
    assert_eq!(agreement.id, "6a0e4c2b-9d1f-4e7a-8b3c-5f2d1e0a9c84");
    assert_eq!(agreement.max_historical_days, 730);
    assert_eq!(agreement.access_valid_for_days, 180);
    assert_eq!(agreement.access_scope, AccessScope::ALL);
    assert_eq!(agreement.accepted, None);
    assert!(agreement.created.is_some());
}

#[tokio::test]
async fn an_agreement_uses_cached_institution_limits_and_given_days() {
    let (server, client, _clock) = authenticated().await;
    Mock::given(method("GET"))
        .and(path("/institutions/"))
        .respond_with(answer(200, &fixture("institutions_gb.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/institutions/MONZO_MONZGB2L/"))
        .respond_with(answer(200, &fixture("institution_monzo.json")))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/agreements/enduser/"))
        .and(body_json(json!({
            "institution_id": "MONZO_MONZGB2L",
            "max_historical_days": 30,
            "access_valid_for_days": 180,
            "access_scope": ["transactions"]
        })))
        .respond_with(answer(201, &fixture("agreement_created.json")))
        .expect(1)
        .mount(&server)
        .await;

    client.list_institutions("GB").await.unwrap();
    let mut request = agreement_request(Some(30), None);
    request.access_scope = vec![AccessScope::Transactions];
    client.create_agreement(&request).await.unwrap();
}

#[tokio::test]
async fn an_agreement_with_both_days_asks_nothing_about_the_institution() {
    let (server, client, _clock) = authenticated().await;
    Mock::given(method("GET"))
        .and(path("/institutions/MONZO_MONZGB2L/"))
        .respond_with(answer(200, &fixture("institution_monzo.json")))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/agreements/enduser/"))
        .respond_with(answer(
            400,
            &fixture("errors/agreement_invalid_days_400.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let error = client
        .create_agreement(&agreement_request(Some(900), Some(365)))
        .await
        .unwrap_err();
    let BankFeedError::Validation { errors } = error else {
        panic!("{error:?}")
    };
    assert_eq!(
        errors.keys().collect::<Vec<_>>(),
        ["access_valid_for_days", "max_historical_days"]
    );
    assert_eq!(
        errors["access_valid_for_days"],
        ["Incorrect access_valid_for_days: access_valid_for_days must be > 0 and <= 180"]
    );
}

#[tokio::test]
async fn a_requisition_is_created_polled_and_deleted() {
    let (server, client, _clock) = authenticated().await;
    Mock::given(method("POST"))
        .and(path("/requisitions/"))
        .and(bearer(&first_access()))
        .and(body_json(json!({
            "redirect": "https://app.example.test/bank/callback",
            "institution_id": "MONZO_MONZGB2L",
            "reference": "link-7f3e9a21",
            "agreement": "6a0e4c2b-9d1f-4e7a-8b3c-5f2d1e0a9c84",
            "user_language": "EN"
        })))
        .respond_with(answer(201, &fixture("requisition_created.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(REQUISITION_PATH))
        .respond_with(answer(200, &fixture("requisition_linked.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(REQUISITION_PATH))
        .respond_with(answer(200, &fixture("requisition_deleted.json")))
        .expect(1)
        .mount(&server)
        .await;

    let created = client
        .create_requisition(&NewRequisition {
            redirect: "https://app.example.test/bank/callback".to_owned(),
            institution_id: "MONZO_MONZGB2L".to_owned(),
            reference: "link-7f3e9a21".to_owned(),
            agreement: Some("6a0e4c2b-9d1f-4e7a-8b3c-5f2d1e0a9c84".to_owned()),
            user_language: Some("EN".to_owned()),
        })
        .await
        .unwrap();
    assert_eq!(created.id, REQUISITION_ID);
    assert_eq!(created.status, RequisitionStatus::Created);
    assert_eq!(
        created.link,
        "https://ob.gocardless.com/ob-psd2/start/0b8e6d4c-2a1f-4e3d-9c7b-5a6f8e1d3c20/MONZO_MONZGB2L"
    );
    assert!(created.accounts.is_empty());

    let linked = client.get_requisition(REQUISITION_ID).await.unwrap();
    assert_eq!(linked.status, RequisitionStatus::Linked);
    assert_eq!(
        linked.status.connection_status(),
        Some(BankConnectionStatus::Linked)
    );
    assert_eq!(linked.accounts.len(), 2);
    assert_eq!(
        linked.agreement.as_deref(),
        Some("6a0e4c2b-9d1f-4e7a-8b3c-5f2d1e0a9c84")
    );
    assert_eq!(linked.reference.as_deref(), Some("link-7f3e9a21"));

    client.delete_requisition(REQUISITION_ID).await.unwrap();
}

#[tokio::test]
async fn a_requisition_without_agreement_or_language_leaves_them_out() {
    let (server, client, _clock) = authenticated().await;
    Mock::given(method("POST"))
        .and(path("/requisitions/"))
        .and(body_json(json!({
            "redirect": "https://app.example.test/bank/callback",
            "institution_id": "MONZO_MONZGB2L",
            "reference": "link-00000001"
        })))
        .respond_with(answer(201, &fixture("requisition_created.json")))
        .expect(1)
        .mount(&server)
        .await;

    client
        .create_requisition(&NewRequisition {
            redirect: "https://app.example.test/bank/callback".to_owned(),
            institution_id: "MONZO_MONZGB2L".to_owned(),
            reference: "link-00000001".to_owned(),
            agreement: None,
            user_language: None,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn requisition_validation_errors_are_keyed_by_field() {
    let (server, client, _clock) = authenticated().await;
    Mock::given(method("POST"))
        .and(path("/requisitions/"))
        .respond_with(answer(
            400,
            &fixture("errors/requisition_invalid_params_400.json"),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let error = client
        .create_requisition(&NewRequisition {
            redirect: "https://app.example.test/bank/callback".to_owned(),
            institution_id: "MONZO_MONZGB2L".to_owned(),
            reference: String::new(),
            agreement: None,
            user_language: Some("XQ".to_owned()),
        })
        .await
        .unwrap_err();
    let BankFeedError::Validation { errors } = error else {
        panic!("{error:?}")
    };
    assert_eq!(errors["reference"], ["This field may not be blank."]);
    assert_eq!(
        errors["user_language"],
        [
            "Provided user_language is invalid or not supported: 'XQ' is an invalid or unsupported language"
        ]
    );
    assert_eq!(errors.len(), 2);
}

#[tokio::test]
async fn an_unknown_requisition_is_requisition_not_found() {
    let (server, client, _clock) = authenticated().await;
    Mock::given(method("GET"))
        .and(path(REQUISITION_PATH))
        .respond_with(answer(404, &fixture("errors/not_found_404.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(REQUISITION_PATH))
        .respond_with(answer(404, &fixture("errors/not_found_404.json")))
        .expect(1)
        .mount(&server)
        .await;

    assert_eq!(
        client.get_requisition(REQUISITION_ID).await.unwrap_err(),
        BankFeedError::RequisitionNotFound
    );
    assert_eq!(
        client.delete_requisition(REQUISITION_ID).await.unwrap_err(),
        BankFeedError::RequisitionNotFound
    );
}

#[tokio::test]
async fn an_unknown_requisition_status_is_kept_not_fatal() {
    let (server, client, _clock) = authenticated().await;
    let mut body = fixture("requisition_linked.json");
    body["status"] = json!("ID");
    Mock::given(method("GET"))
        .and(path(REQUISITION_PATH))
        .respond_with(answer(200, &body))
        .expect(1)
        .mount(&server)
        .await;

    let requisition = client.get_requisition(REQUISITION_ID).await.unwrap();
    assert_eq!(
        requisition.status,
        RequisitionStatus::Other("ID".to_owned())
    );
}

#[tokio::test]
async fn ids_are_escaped_into_a_single_path_segment() {
    let (server, client, _clock) = authenticated().await;
    Mock::given(method("GET"))
        .and(path("/requisitions/a%2F..%2Fb/"))
        .respond_with(answer(404, &fixture("errors/not_found_404.json")))
        .expect(1)
        .mount(&server)
        .await;

    assert_eq!(
        client.get_requisition("a/../b").await.unwrap_err(),
        BankFeedError::RequisitionNotFound
    );
}

#[tokio::test]
async fn a_malformed_answer_is_unexpected_without_quoting_the_body() {
    let (server, client, _clock) = authenticated().await;
    Mock::given(method("GET"))
        .and(path(REQUISITION_PATH))
        .respond_with(answer(
            200,
            &json!({"id": REQUISITION_ID, "status": ["LN"], "institution_id": "secret-ish-value"}),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let error = client.get_requisition(REQUISITION_ID).await.unwrap_err();
    assert!(
        matches!(error, BankFeedError::Unexpected { .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("secret-ish-value"), "{error}");
}

#[tokio::test]
async fn a_base_url_with_a_path_prefixes_every_slash_terminated_path() {
    for suffix in ["/api/v2", "/api/v2/"] {
        let server = wiremock::MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/v2/token/new/"))
            .respond_with(answer(200, &fixture("token_new.json")))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v2/institutions/MONZO_MONZGB2L/"))
            .respond_with(answer(200, &fixture("institution_monzo.json")))
            .expect(1)
            .mount(&server)
            .await;
        let client = GoCardlessClient::new(
            &format!("{}{suffix}", server.uri()),
            SecretString::from(common::SECRET_ID),
            SecretString::from(common::SECRET_KEY),
            reqwest::Client::new(),
        )
        .unwrap();

        let institution = client.get_institution("MONZO_MONZGB2L").await.unwrap();
        assert_eq!(institution.transaction_total_days, 730);
    }
}

#[test]
fn a_base_url_that_is_not_http_is_refused() {
    for base in [
        "not a url",
        "ftp://bankaccountdata.gocardless.com/api/v2",
        "mailto:x@y.z",
    ] {
        assert_eq!(
            GoCardlessClient::new(
                base,
                SecretString::from("id"),
                SecretString::from("key"),
                reqwest::Client::new(),
            )
            .unwrap_err(),
            GoCardlessConfigError::BaseUrl
        );
    }
    assert!(
        GoCardlessClient::new(
            DEFAULT_BASE_URL,
            SecretString::from("id"),
            SecretString::from("key"),
            reqwest::Client::new(),
        )
        .is_ok()
    );
}

#[tokio::test]
async fn the_client_and_the_mock_both_serve_as_a_dyn_bank_feed() {
    let (server, client, _clock) = authenticated().await;
    Mock::given(method("GET"))
        .and(path("/institutions/"))
        .respond_with(answer(200, &fixture("institutions_gb.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut mock = payymo_ports::bank_feed::MockBankFeed::new();
    mock.expect_list_institutions()
        .withf(|country| country == "GB")
        .times(1)
        .returning(|_| Ok(Vec::new()));

    let feeds: [std::sync::Arc<dyn BankFeed>; 2] =
        [std::sync::Arc::new(client), std::sync::Arc::new(mock)];
    let counts = [
        feeds[0].list_institutions("GB").await.unwrap().len(),
        feeds[1].list_institutions("GB").await.unwrap().len(),
    ];
    assert_eq!(counts, [3, 0]);
}

#[tokio::test]
async fn an_accepted_agreement_is_read_back_with_its_acceptance_time() {
    let (server, client, _clock) = authenticated().await;
    let mut accepted = fixture("agreement_created.json");
    accepted["accepted"] = json!("2026-11-20T09:20:05.118Z");
    Mock::given(method("GET"))
        .and(path(
            "/agreements/enduser/6a0e4c2b-9d1f-4e7a-8b3c-5f2d1e0a9c84/",
        ))
        .and(bearer(&first_access()))
        .respond_with(answer(200, &accepted))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/agreements/enduser/00000000-0000-0000-0000-000000000000/",
        ))
        .respond_with(answer(
            404,
            &json!({"detail": "Not found.", "summary": "Not found.", "status_code": 404}),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let agreement = client
        .get_agreement("6a0e4c2b-9d1f-4e7a-8b3c-5f2d1e0a9c84")
        .await
        .unwrap();
    assert_eq!(agreement.access_valid_for_days, 180);
    assert_eq!(
        agreement.accepted.map(|at| at.to_rfc3339()),
        Some("2026-11-20T09:20:05.118+00:00".to_owned())
    );
    let missing = client
        .get_agreement("00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert!(!missing.is_transient(), "{missing:?}");
}
