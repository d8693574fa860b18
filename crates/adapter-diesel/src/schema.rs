//! The tables, once for both backends: `Id` and `Instant` map to native types on each.
#![allow(
    clippy::wildcard_imports,
    reason = "the `table!` idiom imports all SQL types"
)]

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    tenants (id) {
        id -> Id,
        name -> Text,
        status -> Text,
        created_at -> Instant,
        updated_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    users (id) {
        id -> Id,
        tenant_id -> Id,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        mfa_secret_encrypted -> Nullable<Binary>,
        failed_logins -> Integer,
        locked_until -> Nullable<Instant>,
        disabled -> Bool,
        created_at -> Instant,
        updated_at -> Instant,
        mfa_pending_secret_encrypted -> Nullable<Binary>,
        mfa_last_step -> Nullable<BigInt>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    sessions (id) {
        id -> Id,
        tenant_id -> Id,
        user_id -> Id,
        created_at -> Instant,
        last_seen_at -> Instant,
        expires_at -> Instant,
        revoked_at -> Nullable<Instant>,
        revoked_reason -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    refresh_tokens (token_hash) {
        token_hash -> Text,
        session_id -> Id,
        generation -> Integer,
        issued_at -> Instant,
        used_at -> Nullable<Instant>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::Instant;

    token_revocations (jti) {
        jti -> Text,
        expires_at -> Instant,
        revoked_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    api_keys (id) {
        id -> Id,
        tenant_id -> Id,
        name -> Text,
        prefix -> Text,
        secret_hash -> Text,
        scopes -> Text,
        created_at -> Instant,
        expires_at -> Nullable<Instant>,
        last_used_at -> Nullable<Instant>,
        revoked_at -> Nullable<Instant>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    licence_keys (id) {
        id -> Id,
        tenant_id -> Id,
        key_hash -> Text,
        allowed_domain -> Text,
        status -> Text,
        expires_at -> Nullable<Instant>,
        created_at -> Instant,
        updated_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    audit_events (id) {
        id -> Id,
        tenant_id -> Id,
        occurred_at -> Instant,
        actor -> Text,
        action -> Text,
        target -> Nullable<Text>,
        detail -> Text,
        ip -> Nullable<Text>,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    whmcs_instances (id) {
        id -> Id,
        tenant_id -> Id,
        name -> Text,
        base_url -> Text,
        api_identifier -> Text,
        api_secret_encrypted -> Binary,
        status -> Text,
        invoices_synced_at -> Nullable<Instant>,
        created_at -> Instant,
        updated_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    bank_connections (id) {
        id -> Id,
        tenant_id -> Id,
        institution_id -> Text,
        requisition_id -> Text,
        agreement_id -> Nullable<Text>,
        status -> Text,
        access_expires_at -> Nullable<Instant>,
        created_at -> Instant,
        updated_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    bank_accounts (id) {
        id -> Id,
        tenant_id -> Id,
        connection_id -> Id,
        provider_account_id -> Text,
        iban -> Nullable<Text>,
        name -> Nullable<Text>,
        currency -> Text,
        last_synced_at -> Nullable<Instant>,
        created_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    stripe_connections (id) {
        id -> Id,
        tenant_id -> Id,
        account_id -> Text,
        api_key_encrypted -> Binary,
        webhook_secret_encrypted -> Nullable<Binary>,
        status -> Text,
        payments_synced_at -> Nullable<Instant>,
        created_at -> Instant,
        updated_at -> Instant,
        webhook_secret_previous_encrypted -> Nullable<Binary>,
        last_synced_at -> Nullable<Instant>,
        last_sync_error -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    jobs (id) {
        id -> Id,
        tenant_id -> Nullable<Id>,
        kind -> Text,
        payload -> Text,
        status -> Text,
        dedupe_key -> Nullable<Text>,
        run_at -> Instant,
        attempts -> Integer,
        max_attempts -> Integer,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Instant>,
        last_error -> Nullable<Text>,
        created_at -> Instant,
        updated_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    webhook_events (id) {
        id -> Id,
        tenant_id -> Id,
        provider -> Text,
        event_id -> Text,
        event_type -> Text,
        payload -> Text,
        received_at -> Instant,
        processed_at -> Nullable<Instant>,
        connection_id -> Nullable<Id>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    transactions (id) {
        id -> Id,
        tenant_id -> Id,
        bank_account_id -> Nullable<Id>,
        stripe_connection_id -> Nullable<Id>,
        source -> Text,
        provider_id -> Nullable<Text>,
        dedupe_key -> Text,
        booking_date -> Date,
        value_date -> Nullable<Date>,
        amount_minor -> BigInt,
        currency -> Text,
        counterparty_name -> Text,
        counterparty_iban -> Nullable<Text>,
        remittance -> Text,
        reference -> Nullable<Text>,
        match_state -> Text,
        imported_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    invoices (id) {
        id -> Id,
        tenant_id -> Id,
        whmcs_instance_id -> Id,
        external_id -> Text,
        number -> Text,
        client_id -> Nullable<Text>,
        client_name -> Text,
        client_company -> Nullable<Text>,
        total_minor -> BigInt,
        balance_minor -> BigInt,
        currency -> Text,
        invoice_date -> Date,
        due_date -> Date,
        status -> Text,
        synced_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    matches (id) {
        id -> Id,
        tenant_id -> Id,
        transaction_id -> Id,
        state -> Text,
        confidence_bp -> Integer,
        reasons -> Text,
        version -> Integer,
        decided_by -> Nullable<Text>,
        created_at -> Instant,
        updated_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::Id;

    match_allocations (match_id, invoice_id) {
        match_id -> Id,
        tenant_id -> Id,
        invoice_id -> Id,
        amount_minor -> BigInt,
        currency -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    payment_applications (id) {
        id -> Id,
        tenant_id -> Id,
        match_id -> Id,
        invoice_id -> Id,
        amount_minor -> BigInt,
        currency -> Text,
        idempotency_key -> Text,
        state -> Text,
        attempts -> Integer,
        external_ref -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Instant,
        updated_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    tenant_settings (tenant_id) {
        tenant_id -> Id,
        match_settings -> Text,
        auto_apply -> Bool,
        fees_close_invoice -> Bool,
        card_gateway -> Text,
        version -> Integer,
        updated_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    stripe_payouts (id) {
        id -> Id,
        tenant_id -> Id,
        stripe_connection_id -> Id,
        payout_id -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        arrival_date -> Date,
        status -> Text,
        bank_transaction_id -> Nullable<Id>,
        created_at -> Instant,
        updated_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    recovery_codes (id) {
        id -> Id,
        tenant_id -> Id,
        user_id -> Id,
        code_hash -> Text,
        created_at -> Instant,
        used_at -> Nullable<Instant>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    whmcs_instance_options (instance_id) {
        instance_id -> Id,
        tenant_id -> Id,
        gateway -> Text,
        default_currency -> Text,
        deleted_at -> Nullable<Instant>,
        updated_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    known_payers (tenant_id, key_kind, payer_key) {
        tenant_id -> Id,
        key_kind -> Text,
        payer_key -> Text,
        client_id -> Text,
        updated_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    payment_application_retries (application_id) {
        application_id -> Id,
        tenant_id -> Id,
        not_before -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    match_notes (match_id) {
        match_id -> Id,
        tenant_id -> Id,
        failure_reason -> Nullable<Text>,
        undo_instructions -> Nullable<Text>,
        updated_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    reconciliation_preferences (tenant_id) {
        tenant_id -> Id,
        gateway -> Text,
        updated_at -> Instant,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    recovery_codes,
    stripe_payouts,
    transactions,
    invoices,
    matches,
    match_allocations,
    payment_applications,
    tenant_settings,
    tenants,
    users,
    sessions,
    refresh_tokens,
    token_revocations,
    api_keys,
    licence_keys,
    audit_events,
    whmcs_instances,
    bank_connections,
    bank_accounts,
    stripe_connections,
    jobs,
    webhook_events,
    bank_account_sync,
    bank_pending_transactions,
    stripe_payments,
    whmcs_instance_options,
    known_payers,
    payment_application_retries,
    match_notes,
    reconciliation_preferences,
);

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    bank_account_sync (bank_account_id) {
        bank_account_id -> Id,
        tenant_id -> Id,
        status -> Text,
        history_days -> Integer,
        last_synced_at -> Nullable<Instant>,
        last_booked_date -> Nullable<Date>,
        budget_limit -> Nullable<Integer>,
        budget_remaining -> Nullable<Integer>,
        budget_resets_at -> Nullable<Instant>,
        balances -> Nullable<Text>,
        balances_at -> Nullable<Instant>,
        last_error -> Nullable<Text>,
        updated_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    bank_pending_transactions (id) {
        id -> Id,
        tenant_id -> Id,
        bank_account_id -> Id,
        dedupe_key -> Text,
        booking_date -> Date,
        value_date -> Nullable<Date>,
        amount_minor -> BigInt,
        currency -> Text,
        counterparty_name -> Text,
        counterparty_iban -> Nullable<Text>,
        remittance -> Text,
        reference -> Nullable<Text>,
        seen_at -> Instant,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::sql_types::{Id, Instant};

    stripe_payments (id) {
        id -> Id,
        tenant_id -> Id,
        stripe_connection_id -> Id,
        payment_key -> Text,
        charge_id -> Nullable<Text>,
        transaction_id -> Nullable<Id>,
        status -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        fee_minor -> Nullable<BigInt>,
        net_minor -> Nullable<BigInt>,
        settlement_currency -> Nullable<Text>,
        refunded_minor -> BigInt,
        dispute_id -> Nullable<Text>,
        dispute_status -> Nullable<Text>,
        review -> Nullable<Text>,
        invoice_hint -> Nullable<Text>,
        customer -> Nullable<Text>,
        description -> Nullable<Text>,
        payout_id -> Nullable<Text>,
        paid_at -> Instant,
        updated_at -> Instant,
    }
}
