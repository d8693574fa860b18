//! Prometheus metrics: HTTP requests by route and status, latency histograms, database pool use.
//! Later features register their own families in the same [`Metrics::registry`].

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use payymo_ports::health::PoolStatus;

/// Labels of the HTTP metrics. `route` is the matched pattern (`/api/matches/{id}`), never the
/// raw path, so cardinality stays bounded.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The request method.
    pub method: String,
    /// The matched route pattern, or `unmatched`.
    pub route: String,
    /// The response status code.
    pub status: u16,
}

/// The process's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<HttpLabels, Histogram>,
    db_connections: Gauge,
    db_idle: Gauge,
    db_max: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with the HTTP and database families.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("payymo");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            http_requests.clone(),
        );
        let http_duration = Family::<HttpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
        });
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method, route and status",
            http_duration.clone(),
        );
        let db_connections = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Open database connections",
            db_connections.clone(),
        );
        let db_idle = Gauge::default();
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            db_idle.clone(),
        );
        let db_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "The database pool's size limit",
            db_max.clone(),
        );
        Self {
            registry: Arc::new(Mutex::new(registry)),
            http_requests,
            http_duration,
            db_connections,
            db_idle,
            db_max,
        }
    }

    /// Lets a feature register its own metric family.
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        if let Ok(mut r) = self.registry.lock() {
            r.register(name, help, metric);
        }
    }

    /// Records one finished request.
    pub fn observe(&self, labels: &HttpLabels, seconds: f64) {
        self.http_requests.get_or_create(labels).inc();
        self.http_duration.get_or_create(labels).observe(seconds);
    }

    /// Renders the text exposition format, refreshing the pool gauges first.
    #[must_use]
    pub fn render(&self, pool: Option<PoolStatus>) -> String {
        if let Some(p) = pool {
            self.db_connections.set(i64::from(p.connections));
            self.db_idle.set(i64::from(p.idle));
            self.db_max.set(i64::from(p.max_size));
        }
        let mut out = String::new();
        if let Ok(r) = self.registry.lock()
            && prometheus_client::encoding::text::encode(&mut out, &r).is_err()
        {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_shows_requests_by_route_and_pool_use() {
        let m = Metrics::new();
        m.observe(
            &HttpLabels {
                method: "GET".into(),
                route: "/healthz".into(),
                status: 200,
            },
            0.003,
        );
        let text = m.render(Some(PoolStatus {
            connections: 3,
            idle: 2,
            max_size: 10,
        }));
        assert!(
            text.contains(
                r#"payymo_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("payymo_http_request_duration_seconds_bucket"));
        assert!(text.contains("payymo_db_pool_max_connections 10"));
    }
}
