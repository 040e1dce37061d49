//! Mamori's HTTP server: the `/api/v1` JSON API, the web console, and the machinery around them —
//! configuration, TLS, security headers, and the authorization guard every route passes through.
//!
//! Handlers are thin: they extract input, call `mamori_core`, and render JSON or HTML.
//! Where things are:
//! - [`routes`]: the route table — every route with the access it needs — and the guard.
//! - [`api`]: JSON handlers; [`console`]: server-rendered pages (Japanese and English).
//! - [`problem`]: RFC 9457 errors and the strict JSON/query extractors.
//! - [`serve`]: start-up (keys, database, setup link, demo) and shutdown.

pub mod api;
pub mod config;
pub mod console;
pub mod download;
pub mod forwarding;
pub mod i18n;
pub mod mail_relay;
pub mod metrics;
pub mod middleware;
pub mod notify;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod serve;
pub mod workbook;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use mamori_core::Core;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub config: Arc<config::ServerConfig>,
    pub routes: Arc<routes::RouteTable>,
    /// Per-address limit on sign-in attempts (password, second factor, setup, invitation).
    pub signin_limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Set once migrations have run and start-up finished; `/readyz` reports it.
    pub ready: Arc<AtomicBool>,
    /// What `/metrics` reports.
    pub metrics: Arc<metrics::Metrics>,
}

impl AppState {
    pub fn new(core: Core, config: config::ServerConfig) -> Self {
        let per_minute = NonZeroU32::new(config.signin_per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.signin_burst).unwrap_or(NonZeroU32::MIN);
        AppState {
            core,
            routes: Arc::new(routes::RouteTable::default()),
            signin_limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst))),
            config: Arc::new(config),
            ready: Arc::new(AtomicBool::new(false)),
            metrics: Arc::new(metrics::Metrics::default()),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    pub fn uses_tls(&self) -> bool {
        self.config.tls.is_some()
    }
}

/// The whole application router, with the guard and the middleware applied.
pub fn app(state: AppState) -> axum::Router {
    routes::build(state)
}
