//! `payymo rotate-keys`: re-encrypts every stored secret under the active data key, so retired
//! keys can be removed from the key ring afterwards.

use payymo_ports::crypto::{EncryptedField, FieldCipher, FieldContext};
use payymo_ports::storage::{EncryptedFieldStore, StoreError};

/// Rows read per round trip.
const BATCH: u32 = 500;

/// What a rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Values looked at.
    pub examined: u64,
    /// Values re-encrypted under the active key.
    pub reencrypted: u64,
    /// Values changed by someone else meanwhile (left as they are; run again).
    pub raced: u64,
    /// Per column (`table.column`): values re-encrypted.
    pub by_column: Vec<(String, u64)>,
}

/// Why a rotation stopped. Nothing already re-encrypted is undone; running again continues.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// The database failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// A stored value cannot be decrypted with any key of the ring (a key is missing from the
    /// ring, or the value was tampered with). Names the row, never the value.
    #[error("{table}.{column} of row {row}: {reason}")]
    Undecryptable {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The row.
        row: uuid::Uuid,
        /// Why.
        reason: String,
    },
}

/// Re-encrypts every value of every encrypted column that is not under `cipher`'s active key.
///
/// # Errors
/// [`RotationError`]; values re-encrypted before the error stay re-encrypted.
pub async fn rotate_keys(
    store: &dyn EncryptedFieldStore,
    cipher: &dyn FieldCipher,
) -> Result<RotationReport, RotationError> {
    let mut report = RotationReport::default();
    for column in store.encrypted_columns() {
        let mut after = None;
        let mut touched = 0_u64;
        loop {
            let batch = store.list_encrypted(column, after, BATCH).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.row);
            for value in &batch {
                report.examined += 1;
                let field = EncryptedField::from_stored(value.value.clone());
                let context = match value.tenant {
                    Some(tenant) => {
                        FieldContext::tenant(tenant, column.table, column.context_column)
                    }
                    None => FieldContext::platform(column.table, column.context_column),
                }
                .with_row(value.row);
                let undecryptable = |reason: String| RotationError::Undecryptable {
                    table: column.table,
                    column: column.column,
                    row: value.row,
                    reason,
                };
                let Some(fresh) = cipher
                    .reencrypt(&field, &context)
                    .map_err(|e| undecryptable(e.to_string()))?
                else {
                    continue;
                };
                if store
                    .replace_encrypted(column, value.row, &value.value, fresh.as_str())
                    .await?
                {
                    report.reencrypted += 1;
                    touched += 1;
                } else {
                    report.raced += 1;
                }
            }
            if batch.len() < BATCH as usize {
                break;
            }
        }
        report
            .by_column
            .push((format!("{}.{}", column.table, column.column), touched));
    }
    Ok(report)
}
