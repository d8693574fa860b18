//! The Stripe adapter: the gateway against a mock Stripe, and webhook signatures and events.

mod gateway;
mod webhook;
