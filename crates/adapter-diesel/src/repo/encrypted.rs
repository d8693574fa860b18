//! The stored ciphertexts, column by column, for `payymo rotate-keys`.
//!
//! The table and column names come only from [`ENCRYPTED_COLUMNS`] (never from input), so they can
//! be spliced into the SQL text; values and ids are bound parameters.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{Binary, Integer, Nullable};
use payymo_domain::ids::TenantId;
use payymo_ports::storage::{EncryptedColumn, EncryptedFieldStore, EncryptedValue, StoreError};
use uuid::Uuid;

use crate::DieselStore;
use crate::sql_types::{Id, Uid};

/// Every column that holds a `FieldCipher` ciphertext, with the name bound into it.
pub const ENCRYPTED_COLUMNS: &[EncryptedColumn] = &[
    EncryptedColumn {
        table: "users",
        column: "mfa_secret_encrypted",
        context_column: "mfa_secret",
    },
    EncryptedColumn {
        table: "users",
        column: "mfa_pending_secret_encrypted",
        context_column: "mfa_secret",
    },
    EncryptedColumn {
        table: "whmcs_instances",
        column: "api_secret_encrypted",
        context_column: "api_secret_encrypted",
    },
    EncryptedColumn {
        table: "stripe_connections",
        column: "api_key_encrypted",
        context_column: "api_key_encrypted",
    },
    EncryptedColumn {
        table: "stripe_connections",
        column: "webhook_secret_encrypted",
        context_column: "webhook_secret_encrypted",
    },
    // The previous secret keeps the binding it was encrypted with as the current one.
    EncryptedColumn {
        table: "stripe_connections",
        column: "webhook_secret_previous_encrypted",
        context_column: "webhook_secret_encrypted",
    },
];

/// How a backend writes the `n`-th bind parameter of raw SQL.
trait BindMarker {
    fn marker(&self, n: usize) -> String;
}

impl BindMarker for diesel::PgConnection {
    fn marker(&self, n: usize) -> String {
        format!("${n}")
    }
}

impl BindMarker for diesel::SqliteConnection {
    fn marker(&self, _n: usize) -> String {
        "?".to_owned()
    }
}

#[derive(QueryableByName)]
struct StoredRow {
    #[diesel(sql_type = Id)]
    id: Uid,
    #[diesel(sql_type = Nullable<Id>)]
    tenant_id: Option<Uid>,
    #[diesel(sql_type = Binary)]
    value: Vec<u8>,
}

fn known(column: EncryptedColumn) -> Result<EncryptedColumn, StoreError> {
    ENCRYPTED_COLUMNS
        .iter()
        .copied()
        .find(|c| *c == column)
        .ok_or_else(|| {
            StoreError::Conflict(format!(
                "{}.{} is not an encrypted column",
                column.table, column.column
            ))
        })
}

#[async_trait]
impl EncryptedFieldStore for DieselStore {
    fn encrypted_columns(&self) -> Vec<EncryptedColumn> {
        ENCRYPTED_COLUMNS.to_vec()
    }

    async fn list_encrypted(
        &self,
        column: EncryptedColumn,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<EncryptedValue>, StoreError> {
        let c = known(column)?;
        let after = Uid(after.unwrap_or_else(Uuid::nil));
        let limit = i32::try_from(limit.min(10_000)).unwrap_or(10_000);
        self.pool
            .run(move |conn| {
                let rows: Vec<StoredRow> = crate::dispatch!(conn, |db| {
                    let (gt, lim) = (db.marker(1), db.marker(2));
                    diesel::sql_query(format!(
                        "SELECT id, tenant_id, {col} AS value FROM {table} \
                         WHERE {col} IS NOT NULL AND id > {gt} ORDER BY id LIMIT {lim}",
                        col = c.column,
                        table = c.table,
                    ))
                    .bind::<Id, _>(after)
                    .bind::<Integer, _>(limit)
                    .load(db)
                })?;
                rows.into_iter()
                    .map(|r| {
                        let value = String::from_utf8(r.value).map_err(|_| {
                            crate::repo::corrupt(
                                "ciphertext in",
                                &format!("{}.{}", c.table, c.column),
                            )
                        })?;
                        Ok(EncryptedValue {
                            tenant: r.tenant_id.map(|t| TenantId::from_uuid(t.0)),
                            row: r.id.0,
                            value,
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn replace_encrypted(
        &self,
        column: EncryptedColumn,
        row: Uuid,
        expected: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        let c = known(column)?;
        let (expected, new) = (expected.as_bytes().to_vec(), new.as_bytes().to_vec());
        self.pool
            .run(move |conn| {
                let rows = crate::dispatch!(conn, |db| {
                    let (p1, p2, p3) = (db.marker(1), db.marker(2), db.marker(3));
                    diesel::sql_query(format!(
                        "UPDATE {table} SET {col} = {p1} WHERE id = {p2} AND {col} = {p3}",
                        col = c.column,
                        table = c.table,
                    ))
                    .bind::<Binary, _>(new)
                    .bind::<Id, _>(Uid(row))
                    .bind::<Binary, _>(expected)
                    .execute(db)
                })?;
                Ok(rows == 1)
            })
            .await
    }
}
