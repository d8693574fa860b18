//! Remembered payers: who paid for which client, by IBAN and by name.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use payymo_domain::ids::TenantId;
use payymo_domain::matching::KnownPayer;
use payymo_ports::storage::{KnownPayerStore, StoreError};

use super::{WriteTransaction, conflict};
use crate::DieselStore;
use crate::schema::{known_payers, tenants};
use crate::sql_types::{Ts, Uid};

/// How a payer key is stored: IBANs without spaces in upper case, names trimmed and lower case.
fn payer_keys(payer: &KnownPayer) -> Vec<(&'static str, String)> {
    let mut keys = Vec::new();
    if let Some(iban) = payer.iban.as_deref() {
        let iban: String = iban
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if !iban.is_empty() {
            keys.push(("iban", iban));
        }
    }
    if let Some(name) = payer.name.as_deref() {
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if !name.is_empty() {
            keys.push(("name", name.chars().take(300).collect()));
        }
    }
    keys
}

#[async_trait]
impl KnownPayerStore for DieselStore {
    async fn remember_payer(
        &self,
        tenant: TenantId,
        payer: &KnownPayer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let t = Uid(tenant.into_uuid());
        let keys = payer_keys(payer);
        let client = payer.client_id.clone();
        if keys.is_empty() || client.trim().is_empty() {
            return Ok(());
        }
        self.pool
            .run(move |conn| {
                crate::dispatch!(conn, |c| c.write_transaction(|c| {
                    let known: i64 = tenants::table
                        .filter(tenants::id.eq(t))
                        .count()
                        .get_result(c)?;
                    if known == 0 {
                        return Err(conflict("unknown tenant"));
                    }
                    for (kind, key) in &keys {
                        diesel::insert_into(known_payers::table)
                            .values((
                                known_payers::tenant_id.eq(t),
                                known_payers::key_kind.eq(kind),
                                known_payers::payer_key.eq(key),
                                known_payers::client_id.eq(&client),
                                known_payers::updated_at.eq(Ts(now)),
                            ))
                            .on_conflict((
                                known_payers::tenant_id,
                                known_payers::key_kind,
                                known_payers::payer_key,
                            ))
                            .do_update()
                            .set((
                                known_payers::client_id.eq(&client),
                                known_payers::updated_at.eq(Ts(now)),
                            ))
                            .execute(c)?;
                    }
                    Ok(())
                }))
            })
            .await
    }

    async fn list_known_payers(&self, tenant: TenantId) -> Result<Vec<KnownPayer>, StoreError> {
        let t = Uid(tenant.into_uuid());
        self.pool
            .run(move |conn| {
                let rows: Vec<(String, String, String)> =
                    crate::dispatch!(conn, |c| known_payers::table
                        .filter(known_payers::tenant_id.eq(t))
                        .order((known_payers::key_kind, known_payers::payer_key))
                        .select((
                            known_payers::key_kind,
                            known_payers::payer_key,
                            known_payers::client_id,
                        ))
                        .load(c))?;
                Ok(rows
                    .into_iter()
                    .map(|(kind, key, client_id)| {
                        if kind == "iban" {
                            KnownPayer {
                                iban: Some(key),
                                name: None,
                                client_id,
                            }
                        } else {
                            KnownPayer {
                                iban: None,
                                name: Some(key),
                                client_id,
                            }
                        }
                    })
                    .collect())
            })
            .await
    }
}
