//! Stored ciphertexts, for re-encryption under the active data key (`payymo rotate-keys`).

use async_trait::async_trait;
use payymo_domain::ids::TenantId;
use uuid::Uuid;

use super::StoreError;

/// A column holding encrypted values, and the name its ciphertexts are bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncryptedColumn {
    /// The table.
    pub table: &'static str,
    /// The column in the database.
    pub column: &'static str,
    /// The column name bound into the ciphertext's associated data (the `FieldContext` column;
    /// a pending and an enrolled MFA secret share one).
    pub context_column: &'static str,
}

/// One stored ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedValue {
    /// The owning tenant (`None` for platform rows).
    pub tenant: Option<TenantId>,
    /// The row's id (bound into the ciphertext).
    pub row: Uuid,
    /// The ciphertext as stored (the `EncryptedField` text).
    pub value: String,
}

/// Reads and replaces stored ciphertexts column by column.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait EncryptedFieldStore: Send + Sync {
    /// Every encrypted column this store holds.
    fn encrypted_columns(&self) -> Vec<EncryptedColumn>;

    /// Up to `limit` non-empty values of `column`, in row-id order after `after`.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] for a column this store does not know; [`StoreError::Unavailable`].
    async fn list_encrypted(
        &self,
        column: EncryptedColumn,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<EncryptedValue>, StoreError>;

    /// Replaces the value of `row` with `new` if it is still `expected` (someone may have written
    /// it meanwhile); `false` when it was not.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] for a column this store does not know; [`StoreError::Unavailable`].
    async fn replace_encrypted(
        &self,
        column: EncryptedColumn,
        row: Uuid,
        expected: &str,
        new: &str,
    ) -> Result<bool, StoreError>;
}
