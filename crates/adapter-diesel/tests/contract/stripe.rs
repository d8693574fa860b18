//! The storage contract of `StripeStore`: webhook secret rotation, the sync watermark, payments
//! merged across their payment intent and charge, review flags, listings with cursors, and tenant
//! isolation. Run on PostgreSQL and SQLite.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first broken promise"
)]
#![expect(
    clippy::too_many_lines,
    reason = "a contract scenario reads best as one story, top to bottom"
)]

use chrono::NaiveDate;
use payymo_domain::connection::{
    ConnectionStatus, PayoutStatus, StripeConnection, StripePayout, WhmcsInstance,
};
use payymo_domain::ids::{ConnectionId, TenantId, TransactionId};
use payymo_domain::money::Currency;
use payymo_domain::tenant::{Tenant, TenantStatus};
use payymo_domain::transaction::{Transaction, TransactionSource};
use payymo_ports::storage::{
    ConnectionStore, NewTransaction, PayoutStore, StoreError, StripePaymentFilter,
    StripePaymentRecord, StripePaymentReview, StripePayoutFilter, StripeStore, SyncTarget,
    SyncTargetKind, SyncTargets, TenantStore, TransactionMatchState, TransactionStore,
    WebhookEvent, WebhookInbox, WhmcsInstanceStore, WhmcsOptions,
};
use payymo_test_support::storage::Fixture;
use payymo_test_support::{at, contract, eur};
use uuid::Uuid;

async fn tenant_with_connection(f: &Fixture, name: &str) -> (TenantId, ConnectionId) {
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    f.store
        .create_tenant(&Tenant {
            id: tenant,
            name: name.into(),
            status: TenantStatus::Active,
            created_at: at(0),
            updated_at: at(0),
        })
        .await
        .unwrap();
    let connection = ConnectionId::from_uuid(Uuid::now_v7());
    f.store
        .create_stripe_connection(
            &StripeConnection {
                id: connection,
                tenant_id: tenant,
                account_id: format!("acct_{name}"),
                api_key_encrypted: b"key".to_vec(),
                webhook_secret_encrypted: Some(b"first".to_vec()),
                status: ConnectionStatus::Active,
                payments_synced_at: None,
            },
            at(0),
        )
        .await
        .unwrap();
    (tenant, connection)
}

fn payment(
    tenant: TenantId,
    connection: ConnectionId,
    key: &str,
    charge: Option<&str>,
    minute: i64,
) -> StripePaymentRecord {
    StripePaymentRecord {
        id: Uuid::now_v7(),
        tenant_id: tenant,
        connection_id: connection,
        payment_key: key.to_owned(),
        charge_id: charge.map(str::to_owned),
        transaction_id: None,
        status: "succeeded".to_owned(),
        amount: eur(11_900),
        fee: None,
        net: None,
        refunded: eur(0),
        dispute_id: None,
        dispute_status: None,
        review: None,
        invoice_hint: Some("4711".to_owned()),
        customer: None,
        description: None,
        payout_id: None,
        paid_at: at(minute),
    }
}

async fn secrets_watermark_and_webhook_lookup(f: Fixture) {
    let (a, conn) = tenant_with_connection(&f, "a").await;
    let (b, _) = tenant_with_connection(&f, "b").await;

    let (found, previous) = f.store.stripe_connection_for_webhook(conn).await.unwrap();
    assert_eq!(found.tenant_id, a);
    assert_eq!(
        found.webhook_secret_encrypted.as_deref(),
        Some(&b"first"[..])
    );
    assert_eq!(previous, None);
    assert!(matches!(
        f.store
            .stripe_connection_for_webhook(ConnectionId::from_uuid(Uuid::now_v7()))
            .await,
        Err(StoreError::NotFound)
    ));

    f.store
        .set_stripe_webhook_secret(a, conn, b"second".to_vec(), true, at(1))
        .await
        .unwrap();
    let (found, previous) = f.store.stripe_connection_for_webhook(conn).await.unwrap();
    assert_eq!(
        found.webhook_secret_encrypted.as_deref(),
        Some(&b"second"[..])
    );
    assert_eq!(previous.as_deref(), Some(&b"first"[..]));
    assert!(matches!(
        f.store
            .set_stripe_webhook_secret(b, conn, b"evil".to_vec(), true, at(2))
            .await,
        Err(StoreError::NotFound)
    ));

    f.store
        .record_stripe_sync(
            a,
            conn,
            Some(at(60)),
            ConnectionStatus::Active,
            None,
            at(61),
        )
        .await
        .unwrap();
    // An older watermark never moves it back; a failure keeps it and records the error.
    f.store
        .record_stripe_sync(
            a,
            conn,
            Some(at(30)),
            ConnectionStatus::Failing,
            Some("invalid_api_key".to_owned()),
            at(62),
        )
        .await
        .unwrap();
    let accounts = f.store.list_stripe_accounts(a).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].payments_synced_at, Some(at(60)));
    assert_eq!(accounts[0].last_synced_at, Some(at(62)));
    assert_eq!(accounts[0].status, ConnectionStatus::Failing);
    assert_eq!(
        accounts[0].last_sync_error.as_deref(),
        Some("invalid_api_key")
    );
    assert!(accounts[0].has_previous_webhook_secret);
    assert_eq!(
        f.store.list_stripe_accounts(b).await.unwrap()[0].last_synced_at,
        None
    );

    // Webhook deliveries are read back within their tenant only.
    let event = WebhookEvent {
        id: Uuid::now_v7(),
        tenant_id: a,
        provider: "stripe".to_owned(),
        connection_id: Some(conn),
        event_id: "evt_1".to_owned(),
        event_type: "charge.succeeded".to_owned(),
        payload: "{}".to_owned(),
    };
    assert!(f.store.record_webhook(&event, at(3)).await.unwrap());
    let (read, processed) = f.store.get_webhook_event(a, event.id).await.unwrap();
    assert_eq!(read, event);
    assert!(!processed);
    f.store
        .mark_webhook_processed(a, event.id, at(4))
        .await
        .unwrap();
    assert!(f.store.get_webhook_event(a, event.id).await.unwrap().1);
    assert!(matches!(
        f.store.get_webhook_event(b, event.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn payments_merge_flag_list_and_reconcile(f: Fixture) {
    let (a, conn) = tenant_with_connection(&f, "a").await;
    let (b, conn_b) = tenant_with_connection(&f, "b").await;

    // The payment intent first, then its charge: one row.
    let first = f
        .store
        .upsert_stripe_payment(&payment(a, conn, "pi_1", None, 10), at(10))
        .await
        .unwrap();
    let mut with_charge = payment(a, conn, "pi_1", Some("ch_1"), 10);
    with_charge.fee = Some(eur(192));
    with_charge.net = Some(eur(11_708));
    let merged = f
        .store
        .upsert_stripe_payment(&with_charge, at(11))
        .await
        .unwrap();
    assert_eq!(merged.id, first.id);
    assert_eq!(merged.charge_id.as_deref(), Some("ch_1"));
    assert_eq!(merged.fee, Some(eur(192)));
    // Found by either id, never from another tenant.
    assert_eq!(
        f.store
            .find_stripe_payment(a, conn, "ch_1")
            .await
            .unwrap()
            .id,
        first.id
    );
    assert!(matches!(
        f.store.find_stripe_payment(b, conn, "pi_1").await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        f.store
            .upsert_stripe_payment(&payment(b, conn, "pi_x", None, 1), at(1))
            .await,
        Err(StoreError::Conflict(_))
    ));

    // Its transaction, linked.
    let txn = TransactionId::from_uuid(Uuid::now_v7());
    let report = f
        .store
        .ingest_stripe_transactions(
            a,
            conn,
            &[NewTransaction {
                transaction: Transaction {
                    id: txn,
                    booking_date: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
                    value_date: None,
                    amount: eur(11_900),
                    counterparty_name: String::new(),
                    counterparty_iban: None,
                    remittance: "Invoice 4711".to_owned(),
                    reference: Some("4711".to_owned()),
                    source: TransactionSource::Stripe,
                },
                provider_id: Some("pi_1".to_owned()),
            }],
            at(12),
        )
        .await
        .unwrap();
    assert_eq!(report.inserted, 1);
    f.store
        .set_stripe_payment_transaction(a, first.id, txn, at(12))
        .await
        .unwrap();
    // The ids WHMCS's own Stripe module may have recorded the payment under; none elsewhere.
    assert_eq!(
        f.store.stripe_ids_of_transaction(a, txn).await.unwrap(),
        vec!["pi_1".to_owned(), "ch_1".to_owned()]
    );
    assert!(
        f.store
            .stripe_ids_of_transaction(b, txn)
            .await
            .unwrap()
            .is_empty()
    );

    // Flagged for review; settled from a payout.
    f.store
        .flag_stripe_payment(
            a,
            first.id,
            Some(eur(11_900)),
            None,
            StripePaymentReview::RefundAfterPayment,
            at(13),
        )
        .await
        .unwrap();
    assert!(
        f.store
            .settle_stripe_charge(a, conn, "ch_1", eur(200), eur(11_700), "po_1", at(14))
            .await
            .unwrap()
    );
    assert!(
        !f.store
            .settle_stripe_charge(b, conn_b, "ch_1", eur(200), eur(11_700), "po_1", at(14))
            .await
            .unwrap()
    );
    // As WHMCS is to record it: the charge, and Stripe's fee settled in the payment's currency.
    let card = f
        .store
        .card_payment_of_transaction(a, txn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            card.payment_key.as_str(),
            card.charge_id.as_deref(),
            card.fee
        ),
        ("pi_1", Some("ch_1"), Some(eur(200)))
    );
    assert_eq!(
        f.store.card_payment_of_transaction(b, txn).await.unwrap(),
        None,
        "another tenant's transaction"
    );
    for minute in [20, 30] {
        f.store
            .upsert_stripe_payment(
                &payment(a, conn, &format!("pi_{minute}"), None, minute),
                at(minute),
            )
            .await
            .unwrap();
    }

    let page = f
        .store
        .list_stripe_payments(a, &StripePaymentFilter::default(), 2, None)
        .await
        .unwrap();
    let keys: Vec<&str> = page
        .iter()
        .map(|l| l.payment.payment_key.as_str())
        .collect();
    assert_eq!(keys, ["pi_30", "pi_20"]);
    let last = &page[1].payment;
    let rest = f
        .store
        .list_stripe_payments(
            a,
            &StripePaymentFilter::default(),
            2,
            Some((last.paid_at, last.id)),
        )
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    let listed = &rest[0];
    assert_eq!(listed.payment.payment_key, "pi_1");
    assert_eq!(
        listed.payment.review,
        Some(StripePaymentReview::RefundAfterPayment)
    );
    assert_eq!(listed.payment.refunded, eur(11_900));
    assert_eq!(listed.payment.fee, Some(eur(200)));
    assert_eq!(listed.payment.payout_id.as_deref(), Some("po_1"));
    assert_eq!(listed.match_state, Some(TransactionMatchState::Unmatched));
    let review = f
        .store
        .list_stripe_payments(
            a,
            &StripePaymentFilter {
                needs_review: Some(true),
                ..StripePaymentFilter::default()
            },
            10,
            None,
        )
        .await
        .unwrap();
    assert_eq!(review.len(), 1);
    assert!(
        f.store
            .list_stripe_payments(b, &StripePaymentFilter::default(), 10, None)
            .await
            .unwrap()
            .is_empty()
    );

    // Payouts: listed by arrival, unlinked ones found, reconciling takes a row out of the queue.
    for (id, day, status) in [
        ("po_1", 2, PayoutStatus::Paid),
        ("po_2", 3, PayoutStatus::Failed),
    ] {
        f.store
            .upsert_payout(
                &StripePayout {
                    id: Uuid::now_v7(),
                    tenant_id: a,
                    stripe_connection_id: conn,
                    payout_id: id.to_owned(),
                    amount: eur(11_700),
                    arrival_date: NaiveDate::from_ymd_opt(2026, 3, day).unwrap(),
                    status,
                    bank_transaction_id: None,
                },
                at(20),
            )
            .await
            .unwrap();
    }
    let since = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    assert_eq!(
        f.store.list_unlinked_payouts(a, since).await.unwrap().len(),
        2
    );
    assert!(
        f.store
            .list_unlinked_payouts(b, since)
            .await
            .unwrap()
            .is_empty()
    );
    f.store
        .link_payout_to_transaction(a, conn, "po_1", txn, at(21))
        .await
        .unwrap();
    assert!(f.store.mark_transaction_reconciled(a, txn).await.unwrap());
    assert!(!f.store.mark_transaction_reconciled(a, txn).await.unwrap());
    assert!(matches!(
        f.store.mark_transaction_reconciled(b, txn).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        f.store.get_transaction(a, txn).await.unwrap().1,
        TransactionMatchState::Matched
    );
    let unlinked = f.store.list_unlinked_payouts(a, since).await.unwrap();
    assert_eq!(unlinked.len(), 1);
    assert_eq!(unlinked[0].payout_id, "po_2");
    let payouts = f
        .store
        .list_stripe_payouts(a, &StripePayoutFilter::default(), 1, None)
        .await
        .unwrap();
    assert_eq!(payouts[0].payout_id, "po_2");
    let next = f
        .store
        .list_stripe_payouts(
            a,
            &StripePayoutFilter::default(),
            5,
            Some((payouts[0].arrival_date, payouts[0].id)),
        )
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].bank_transaction_id, Some(txn));
    let matched = f
        .store
        .list_stripe_payouts(
            a,
            &StripePayoutFilter {
                matched: Some(true),
                status: Some("paid".to_owned()),
                connection: Some(conn),
                payout: None,
            },
            5,
            None,
        )
        .await
        .unwrap();
    assert_eq!(matched.len(), 1);
}

/// The scheduler's targets: Stripe connections and WHMCS instances of active tenants, except
/// disabled ones and removed instances; a failing connection stays scheduled.
async fn sync_targets_leave_out_disabled_removed_and_suspended(f: Fixture) {
    let (a, stripe_a) = tenant_with_connection(&f, "a").await;
    let (b, stripe_b) = tenant_with_connection(&f, "b").await;
    let (_, stripe_off) = tenant_with_connection(&f, "off").await;
    f.store
        .record_stripe_sync(
            a,
            stripe_a,
            Some(at(5)),
            ConnectionStatus::Failing,
            Some("invalid_api_key".to_owned()),
            at(5),
        )
        .await
        .unwrap();
    let off_tenant = f
        .store
        .stripe_connection_for_webhook(stripe_off)
        .await
        .unwrap()
        .0
        .tenant_id;
    f.store
        .record_stripe_sync(
            off_tenant,
            stripe_off,
            None,
            ConnectionStatus::Disabled,
            None,
            at(5),
        )
        .await
        .unwrap();
    let instance = |tenant: TenantId, url: &str| WhmcsInstance {
        id: ConnectionId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant,
        name: url.to_owned(),
        base_url: url.to_owned(),
        api_identifier: "ident".to_owned(),
        api_secret_encrypted: b"secret".to_vec(),
        status: ConnectionStatus::Active,
        invoices_synced_at: None,
    };
    let kept = instance(a, "https://billing.a.example");
    let removed = instance(a, "https://old.a.example");
    let suspended = instance(b, "https://billing.b.example");
    for i in [&kept, &removed, &suspended] {
        f.store.create_whmcs_instance(i, at(1)).await.unwrap();
    }
    f.store
        .put_whmcs_options(
            a,
            removed.id,
            &WhmcsOptions {
                gateway: "banktransfer".to_owned(),
                default_currency: Currency::EUR,
                deleted_at: Some(at(2)),
            },
            at(2),
        )
        .await
        .unwrap();
    f.store
        .set_tenant_status(b, TenantStatus::Suspended, at(3))
        .await
        .unwrap();

    let mut targets = f.store.list_sync_targets().await.unwrap();
    targets.sort_by_key(|t| t.connection_id.into_uuid());
    let mut expected = vec![
        SyncTarget {
            tenant_id: a,
            connection_id: stripe_a,
            kind: SyncTargetKind::Stripe,
            last_synced_at: Some(at(5)),
        },
        SyncTarget {
            tenant_id: a,
            connection_id: kept.id,
            kind: SyncTargetKind::Whmcs,
            last_synced_at: None,
        },
    ];
    expected.sort_by_key(|t| t.connection_id.into_uuid());
    assert_eq!(targets, expected, "tenant b ({stripe_b}) is suspended");
}

contract!(
    worker_threads = 2, pool = 4;
    secrets_watermark_and_webhook_lookup,
    payments_merge_flag_list_and_reconcile,
    sync_targets_leave_out_disabled_removed_and_suspended,
);
