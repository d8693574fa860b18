//! The storage contract's fixtures: a store on a fresh database, a tenant, a tenant's books
//! (WHMCS, a bank account, optionally Stripe), and [`contract!`](crate::contract), which runs each
//! scenario once on PostgreSQL and once on SQLite.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use payymo_adapter_diesel::DieselStore;
use payymo_domain::connection::{
    BankAccount, BankConnection, BankConnectionStatus, ConnectionStatus, StripeConnection,
    WhmcsInstance,
};
use payymo_domain::ids::{BankAccountId, ConnectionId, TenantId};
use payymo_domain::money::Currency;
use payymo_domain::tenant::{Tenant, TenantStatus};
use payymo_ports::storage::{ConnectionStore, TenantStore, WhmcsInstanceStore};

use crate::TestDatabase;
use crate::fixtures::{at, id};

/// The pool size of a contract store unless a suite asks for another.
pub const POOL_SIZE: u32 = 8;

/// A store on a fresh database, kept alive with it.
#[derive(Debug)]
pub struct Fixture {
    /// The store under test.
    pub store: Arc<DieselStore>,
    _db: TestDatabase,
}

impl Fixture {
    /// A store of [`POOL_SIZE`] connections on `db`.
    #[must_use]
    pub fn new(db: TestDatabase) -> Self {
        Self::with_pool(db, POOL_SIZE)
    }

    /// A store of `size` connections on `db`.
    ///
    /// # Panics
    /// When the store cannot be built on the database's URL.
    #[must_use]
    pub fn with_pool(db: TestDatabase, size: u32) -> Self {
        let store = DieselStore::connect(db.url(), size)
            .unwrap_or_else(|error| panic!("cannot open a store on {}: {error}", db.url()));
        Self {
            store: Arc::new(store),
            _db: db,
        }
    }
}

/// An active tenant named `name`, created at [`at(0)`](at).
///
/// # Panics
/// When the store refuses it.
pub async fn tenant(f: &Fixture, name: &str) -> TenantId {
    let tenant = Tenant {
        id: TenantId::from_uuid(id()),
        name: name.into(),
        status: TenantStatus::Active,
        created_at: at(0),
        updated_at: at(0),
    };
    if let Err(error) = f.store.create_tenant(&tenant).await {
        panic!("cannot create tenant {name}: {error}");
    }
    tenant.id
}

/// A tenant's books as stored: its WHMCS instance, its bank connection with one account and,
/// when asked for, a Stripe connection.
#[derive(Debug, Clone, Copy)]
pub struct Books {
    /// The tenant.
    pub tenant: TenantId,
    /// Its WHMCS instance.
    pub whmcs: ConnectionId,
    /// Its bank connection.
    pub bank: ConnectionId,
    /// The one account of the bank connection.
    pub account: BankAccountId,
    stripe: Option<ConnectionId>,
}

impl Books {
    /// The Stripe connection.
    ///
    /// # Panics
    /// When the books were built without one ([`BooksBuilder::stripe`]).
    #[must_use]
    pub fn stripe(&self) -> ConnectionId {
        self.stripe
            .unwrap_or_else(|| panic!("these books have no Stripe connection"))
    }
}

/// The books of a new tenant named `name`, stored when awaited. By default: WHMCS instance
/// "Billing" at `https://billing.{name}.example`, a linked bank connection "BANK" with account
/// "acc-1" in euros, no Stripe; each part can be changed before it is stored.
#[must_use]
pub fn books<'a>(f: &'a Fixture, name: &str) -> BooksBuilder<'a> {
    let tenant = Tenant {
        id: TenantId::from_uuid(id()),
        name: name.into(),
        status: TenantStatus::Active,
        created_at: at(0),
        updated_at: at(0),
    };
    let whmcs = WhmcsInstance {
        id: ConnectionId::from_uuid(id()),
        tenant_id: tenant.id,
        name: "Billing".into(),
        base_url: format!("https://billing.{name}.example"),
        api_identifier: "ident".into(),
        api_secret_encrypted: vec![1, 2, 3],
        status: ConnectionStatus::Active,
        invoices_synced_at: None,
    };
    let bank = BankConnection {
        id: ConnectionId::from_uuid(id()),
        tenant_id: tenant.id,
        institution_id: "BANK".into(),
        requisition_id: format!("req-{}", id()),
        agreement_id: None,
        status: BankConnectionStatus::Linked,
        access_expires_at: None,
    };
    let account = BankAccount {
        id: BankAccountId::from_uuid(id()),
        tenant_id: tenant.id,
        connection_id: bank.id,
        provider_account_id: "acc-1".into(),
        iban: None,
        name: None,
        currency: Currency::EUR,
        last_synced_at: None,
    };
    BooksBuilder {
        fixture: f,
        tenant,
        whmcs,
        bank,
        account,
        stripe: None,
    }
}

/// A tenant's books before they are stored; `.await` stores them.
#[derive(Debug)]
pub struct BooksBuilder<'a> {
    fixture: &'a Fixture,
    tenant: Tenant,
    whmcs: WhmcsInstance,
    bank: BankConnection,
    account: BankAccount,
    stripe: Option<StripeConnection>,
}

impl BooksBuilder<'_> {
    /// Changes the WHMCS instance.
    #[must_use]
    pub fn whmcs(mut self, edit: impl FnOnce(&mut WhmcsInstance)) -> Self {
        edit(&mut self.whmcs);
        self
    }

    /// Changes the bank connection.
    #[must_use]
    pub fn bank(mut self, edit: impl FnOnce(&mut BankConnection)) -> Self {
        edit(&mut self.bank);
        self
    }

    /// Changes the bank account.
    #[must_use]
    pub fn account(mut self, edit: impl FnOnce(&mut BankAccount)) -> Self {
        edit(&mut self.account);
        self
    }

    /// Adds an active Stripe connection (account `acct_{name}`, API key `b"key"`), changed by
    /// `edit`.
    #[must_use]
    pub fn stripe(mut self, edit: impl FnOnce(&mut StripeConnection)) -> Self {
        let mut stripe = StripeConnection {
            id: ConnectionId::from_uuid(id()),
            tenant_id: self.tenant.id,
            account_id: format!("acct_{}", self.tenant.name),
            api_key_encrypted: b"key".to_vec(),
            webhook_secret_encrypted: None,
            status: ConnectionStatus::Active,
            payments_synced_at: None,
        };
        edit(&mut stripe);
        self.stripe = Some(stripe);
        self
    }

    async fn store(self) -> Books {
        let store = &self.fixture.store;
        let name = self.tenant.name.clone();
        let fail = |what: &str, error: &dyn std::fmt::Display| -> ! {
            panic!("cannot create the {what} of {name}'s books: {error}")
        };
        if let Err(e) = store.create_tenant(&self.tenant).await {
            fail("tenant", &e);
        }
        if let Err(e) = store.create_whmcs_instance(&self.whmcs, at(0)).await {
            fail("WHMCS instance", &e);
        }
        if let Err(e) = store.create_bank_connection(&self.bank, at(0)).await {
            fail("bank connection", &e);
        }
        if let Err(e) = store.add_bank_account(&self.account, at(0)).await {
            fail("bank account", &e);
        }
        if let Some(stripe) = &self.stripe
            && let Err(e) = store.create_stripe_connection(stripe, at(0)).await
        {
            fail("Stripe connection", &e);
        }
        Books {
            tenant: self.tenant.id,
            whmcs: self.whmcs.id,
            bank: self.bank.id,
            account: self.account.id,
            stripe: self.stripe.map(|s| s.id),
        }
    }
}

impl<'a> IntoFuture for BooksBuilder<'a> {
    type Output = Books;
    type IntoFuture = Pin<Box<dyn Future<Output = Books> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.store())
    }
}

/// Runs each named scenario `async fn name(f: Fixture)` of the calling module twice, as the tests
/// `postgres::name` and `sqlite::name`, each on a fresh database of its own.
///
/// `contract!(a, b)` runs on a two-thread runtime with a store of [`POOL_SIZE`] connections;
/// `contract!(worker_threads = 4; a, b)` and `contract!(worker_threads = 2, pool = 4; a, b)`
/// choose otherwise.
#[macro_export]
macro_rules! contract {
    (worker_threads = $threads:tt, pool = $pool:expr; $($test:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
                async fn $test() {
                    super::$test($crate::storage::Fixture::with_pool(
                        $crate::TestDatabase::postgres(),
                        $pool,
                    ))
                    .await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
                async fn $test() {
                    super::$test($crate::storage::Fixture::with_pool(
                        $crate::TestDatabase::sqlite(),
                        $pool,
                    ))
                    .await;
                }
            )*
        }
    };
    (worker_threads = $threads:tt; $($test:ident),* $(,)?) => {
        $crate::contract!(
            worker_threads = $threads,
            pool = $crate::storage::POOL_SIZE;
            $($test),*
        );
    };
    ($($test:ident),* $(,)?) => {
        $crate::contract!(worker_threads = 2; $($test),*);
    };
}
