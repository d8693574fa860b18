//! Driver errors become [`StoreError`]s here and nowhere else; no Diesel type leaves the adapter.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use payymo_ports::storage::StoreError;

/// The adapter's internal error: either a Diesel error not yet classified, or a port error decided
/// by the adapter's own logic. `Connection::transaction` needs `From<diesel::result::Error>`.
#[derive(Debug)]
pub(crate) enum DbError {
    Diesel(DieselError),
    Store(StoreError),
}

pub(crate) type DbResult<T> = Result<T, DbError>;

impl From<DieselError> for DbError {
    fn from(error: DieselError) -> Self {
        Self::Diesel(error)
    }
}

impl From<StoreError> for DbError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<DbError> for StoreError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Store(error) => error,
            DbError::Diesel(error) => map_diesel(error),
        }
    }
}

/// Classifies a Diesel error into a port error.
pub(crate) fn map_diesel(error: DieselError) -> StoreError {
    match error {
        DieselError::NotFound => StoreError::NotFound,
        DieselError::DatabaseError(kind, info) => {
            let what = info
                .constraint_name()
                .map(str::to_owned)
                .or_else(|| {
                    info.message()
                        .split_once("failed: ")
                        .map(|(_, what)| what.to_owned())
                })
                .unwrap_or_else(|| info.message().to_owned());
            match kind {
                DatabaseErrorKind::UniqueViolation => StoreError::Duplicate(what),
                DatabaseErrorKind::ForeignKeyViolation
                | DatabaseErrorKind::CheckViolation
                | DatabaseErrorKind::NotNullViolation
                | DatabaseErrorKind::RestrictViolation => StoreError::Conflict(what),
                _ if is_trigger_rejection(info.message()) => {
                    StoreError::Conflict(info.message().to_owned())
                }
                // Serialization failures, closed connections and the rest: worth a retry later.
                _ => StoreError::Unavailable(info.message().to_owned()),
            }
        }
        DieselError::DeserializationError(error) | DieselError::SerializationError(error) => {
            StoreError::Corrupt(error.to_string())
        }
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// Our own triggers (append-only tables) raise errors whose message starts with `payymo:`.
fn is_trigger_rejection(message: &str) -> bool {
    message.starts_with("payymo:")
}
