//! The dashboard in a real headless Chromium against the real app: each test starts its own
//! chromedriver and browser profile. One module per group of pages.

mod dashboard;
mod dashboard_pages;
