//! Stripe behind Payymo's [`PaymentGateway`](payymo_ports::payment_gateway::PaymentGateway) port.
//!
//! - [`StripeClient`]: `Authorization: Bearer <key>` per call, a pinned
//!   [`Stripe-Version`](STRIPE_API_VERSION), form-encoded POST bodies with an `Idempotency-Key`,
//!   Stripe's error object mapped to [`GatewayError`](payymo_ports::payment_gateway::GatewayError),
//!   retries with exponential backoff and full jitter ([`RetryPolicy`]), and list pagination.
//! - [`StripeGateway`]: the port's reads (charges with fees, balance transactions, payouts and
//!   their transactions, refunds, disputes), amounts converted from Stripe's minor units into ISO
//!   4217 [`Money`](payymo_domain::money::Money) by [`amounts`].
//! - [`webhook`]: `Stripe-Signature` verification and typed events, with no I/O.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use payymo_adapter_stripe::{DEFAULT_BASE_URL, StripeClient, StripeGateway};
//! use payymo_ports::payment_gateway::{GatewayCredentials, PaymentGateway};
//!
//! let http = reqwest::Client::builder()
//!     .connect_timeout(std::time::Duration::from_secs(5))
//!     .build()?;
//! let gateway = StripeGateway::new(StripeClient::new(http, DEFAULT_BASE_URL)?);
//! let credentials = GatewayCredentials::new("rk_live_…".into());
//! let account = gateway.verify_credentials(&credentials).await?;
//! # let _ = account;
//! # Ok(())
//! # }
//! ```

pub mod amounts;
mod client;
mod events;
mod gateway;
pub mod webhook;
mod wire;

pub use client::{
    DEFAULT_BASE_URL, MAX_PAGE_SIZE, RetryPolicy, STRIPE_API_VERSION, StripeClient,
    StripeConfigError,
};
pub use events::StripeWebhooks;
pub use gateway::StripeGateway;
pub use wire::{ConversionError, invoice_hint};
