//! What watches a run from outside the batch loop, set up from the command line and the
//! pipeline file: the metrics and the HTTP endpoint that serves them (only when an
//! address is given), and the live status line (only on a terminal).

use crate::engine::BatchListener;
use crate::metrics::Metrics;
use crate::terminal::{LiveStatus, StatusLine};
use crate::ui;
use std::sync::Arc;

/// How a run is to be watched.
#[derive(Clone, Default)]
pub struct Monitoring {
    /// Where to serve HTTP (`--http`, else `[pipeline] http`); off when `None`.
    pub http: Option<String>,
    /// How many recent batches the metrics keep.
    pub retained_batches: usize,
    /// The terminal's status line, if one is drawn.
    pub status: Option<Arc<StatusLine>>,
}

impl Monitoring {
    /// Starts serving HTTP, if asked, and returns the listeners the run must tell.
    /// Called before plugins load, so that a taken port fails the run at once and
    /// `/healthz` answers while plugins build.
    pub fn start(self) -> anyhow::Result<Vec<Box<dyn BatchListener>>> {
        let mut listeners: Vec<Box<dyn BatchListener>> = Vec::new();
        if let Some(address) = &self.http {
            let metrics = Metrics::new(self.retained_batches);
            let server = ui::serve(address, metrics.clone())?;
            tracing::info!(
                event = "http_serving",
                address = %server.address(),
                "serving the batch timeline on http://{}/ (Prometheus metrics on /metrics, JSON on /api/v1/)",
                server.address()
            );
            listeners.push(metrics.recorder());
        }
        if let Some(line) = self.status {
            listeners.push(Box::new(LiveStatus::new(line)));
        }
        Ok(listeners)
    }
}
