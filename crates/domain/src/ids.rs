//! Typed identifiers. Every id a user can see is a UUID (v7, generated outside the domain);
//! the newtypes make it impossible to pass a `TenantId` where an `InvoiceId` is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an existing UUID.
            #[must_use]
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The underlying UUID.
            #[must_use]
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// The underlying UUID, by value.
            #[must_use]
            pub const fn into_uuid(self) -> Uuid {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

typed_id!(
    /// A tenant: one customer organisation of Payymo. All tenant data is scoped by it.
    TenantId
);
typed_id!(
    /// A person or machine account inside a tenant (or a platform admin).
    UserId
);
typed_id!(
    /// A login session (a refresh-token family).
    SessionId
);
typed_id!(
    /// An API key.
    ApiKeyId
);
typed_id!(
    /// A WHMCS addon licence key.
    LicenceId
);
typed_id!(
    /// An audit event.
    AuditEventId
);
typed_id!(
    /// A connection to an outside system (WHMCS instance, bank connection, Stripe account).
    ConnectionId
);
typed_id!(
    /// A bank account behind a bank connection.
    BankAccountId
);
typed_id!(
    /// An invoice as Payymo stores it (its WHMCS id is a separate, external field).
    InvoiceId
);
typed_id!(
    /// An incoming or outgoing payment: a bank transaction, a Stripe payment or a statement line.
    TransactionId
);
typed_id!(
    /// A match of one transaction to one or several invoices.
    MatchId
);
typed_id!(
    /// A payment application in the outbox.
    ApplicationId
);
typed_id!(
    /// A background job.
    JobId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_strings_and_json() {
        let raw = "0190f3a1-7c1e-7b3a-9c1d-2a4b6c8d0e1f";
        let id: InvoiceId = raw.parse().unwrap();
        assert_eq!(id.to_string(), raw);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{raw}\""));
        assert!(format!("{id:?}").starts_with("InvoiceId("));
        assert!("not-a-uuid".parse::<TenantId>().is_err());
    }
}
