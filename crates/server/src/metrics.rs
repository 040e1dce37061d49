//! `/metrics` in the Prometheus text format (issue 20, item 3): requests by route template,
//! method and status with their latency, and — read from the store at each scrape — the audit
//! log's size, how far the last signed checkpoint and each reader of the log (every SIEM
//! destination, the detectors, the evidence task) are behind it, and the PCs whose agent is
//! connected. Labels are route templates (`/api/v1/customers/{id}`), never paths or values, so
//! no id, number or name reaches a metric (DESIGN invariant 4).
//!
//! Who may scrape: with `metrics_token` set, a request bearing it; without, requests from the
//! loopback interface only (a Prometheus on the same host, or a sidecar). Anyone else gets the
//! same 404 as an unknown path, so the endpoint is not advertised.

use crate::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Mutex;

/// The route a request matched (its template), set by the guard for the outer layer to count.
#[derive(Debug, Clone)]
pub struct MatchedRoute(pub String);

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CursorLabels {
    reader: String,
}

/// The counters kept while serving, and the gauges filled at each scrape.
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    audit_entries: Gauge,
    checkpoint_lag: Gauge,
    cursor_lag: Family<CursorLabels, Gauge>,
    agents_connected: Gauge,
    devices_enrolled: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Latency buckets, in seconds: 1 ms to 10 s (an operator on a call notices 200 ms).
const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 10.0];
/// An agent that reported within this long is connected (it beats every 30 s).
const CONNECTED_WITHIN_MS: i64 = 120_000;

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("mamori");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(LATENCY_BUCKETS.into_iter())
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by route template and method",
            latency.clone(),
        );
        let audit_entries = Gauge::default();
        registry.register("audit_log_entries", "Entries in the audit log", audit_entries.clone());
        let checkpoint_lag = Gauge::default();
        registry.register(
            "audit_checkpoint_lag_entries",
            "Entries appended since the last signed checkpoint",
            checkpoint_lag.clone(),
        );
        let cursor_lag = Family::<CursorLabels, Gauge>::default();
        registry.register(
            "audit_reader_lag_entries",
            "Entries a reader of the audit log has still to read: each SIEM destination, the detectors (feed:detection), the live evidence (feed:evidence)",
            cursor_lag.clone(),
        );
        let agents_connected = Gauge::default();
        registry.register(
            "agents_connected",
            "Enrolled PCs whose agent reported within the last two minutes",
            agents_connected.clone(),
        );
        let devices_enrolled = Gauge::default();
        registry.register(
            "devices_enrolled",
            "PCs in the device ledger, not revoked",
            devices_enrolled.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            requests,
            latency,
            audit_entries,
            checkpoint_lag,
            cursor_lag,
            agents_connected,
            devices_enrolled,
        }
    }
}

impl Metrics {
    /// Counts one answered request (`route`: its template, or `unmatched`).
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let (route, method) = (route.to_owned(), method.to_owned());
        self.requests
            .get_or_create(&RequestLabels { route: route.clone(), method: method.clone(), status })
            .inc();
        self.latency.get_or_create(&RouteLabels { route, method }).observe(seconds);
    }

    /// Reads the gauges from the store, then writes everything in the text format.
    async fn render(&self, state: &AppState) -> Result<String, mamori_core::CoreError> {
        let f = state.core.operations_figures(CONNECTED_WITHIN_MS).await?;
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.audit_entries.set(gauge(f.audit_entries));
        self.checkpoint_lag.set(gauge(f.audit_entries.saturating_sub(f.checkpoint)));
        for (reader, next) in f.readers {
            let lag = gauge(f.audit_entries.saturating_sub(next));
            self.cursor_lag.get_or_create(&CursorLabels { reader }).set(lag);
        }
        self.devices_enrolled.set(gauge(f.devices_enrolled));
        self.agents_connected.set(gauge(f.agents_connected));
        let mut out = String::new();
        let registry =
            self.registry.lock().map_err(|_| mamori_core::CoreError::Internal("metrics lock".into()))?;
        prometheus_client::encoding::text::encode(&mut out, &registry)
            .map_err(|e| mamori_core::CoreError::Internal(format!("metrics did not encode: {e}")))?;
        Ok(out)
    }
}

/// Whether this request may scrape (see the module's documentation).
fn may_scrape(state: &AppState, req: &Request) -> bool {
    match &state.config.metrics_token {
        Some(token) => {
            let sent = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), token.as_bytes()).into()
        }
        None => req.extensions().get::<ConnectInfo<SocketAddr>>().is_some_and(|c| c.0.ip().is_loopback()),
    }
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>, req: Request) -> Response {
    if !may_scrape(&state, &req) {
        return crate::console::not_found_page(&req);
    }
    match state.metrics.render(&state).await {
        Ok(text) => {
            let mut resp = text.into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics could not be read");
            (StatusCode::SERVICE_UNAVAILABLE, "metrics could not be read").into_response()
        }
    }
}
