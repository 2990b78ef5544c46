//! What the rest of sluice sees of a running source, and can tell it: its name and
//! type, its rate limit (which it obeys), and the last error it met (which the
//! receivers API shows).

use super::SourceSpec;
use crate::rate::{Governed, PidSettings, RateLimit};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source's shared controls and status.
#[derive(Debug)]
pub struct SourceHandle {
    name: String,
    kind: &'static str,
    limit: RateLimit,
    backpressure: bool,
    last_error: Mutex<Option<SourceError>>,
}

/// An error a source met and carried on from (a refused connection, say).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceError {
    /// When, in ms since the Unix epoch.
    pub at_ms: u64,
    /// What happened.
    pub message: String,
}

impl SourceHandle {
    /// The handle of the source `spec`, its rate limit set from `max_rate` and, under
    /// backpressure, the rate to start at: `initial_rate`, by default the estimator's
    /// floor. Until the first batches are measured nothing says what the pipeline can
    /// take, and starting low keeps them from flooding a slow pipeline before any
    /// feedback exists. It is set here, before the source reads anything.
    pub fn new(spec: &SourceSpec) -> Self {
        let limit = RateLimit::new(spec.rate.max_rate);
        if spec.rate.backpressure {
            let initial = spec
                .rate
                .initial_rate
                .map_or(PidSettings::default().min_rate, |r| r as f64);
            limit.set_estimate(Some(initial));
        }
        SourceHandle {
            name: spec.name.clone(),
            kind: spec.kind,
            limit,
            backpressure: spec.rate.backpressure,
            last_error: Mutex::new(None),
        }
    }

    /// A handle with no limit, for sources made outside a pipeline (tests).
    pub fn unlimited(name: &str, kind: &'static str) -> Self {
        SourceHandle {
            name: name.to_string(),
            kind,
            limit: RateLimit::unlimited(),
            backpressure: false,
            last_error: Mutex::new(None),
        }
    }

    /// The source's name in the pipeline.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its `type`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The rate it may take records at.
    pub fn limit(&self) -> &RateLimit {
        &self.limit
    }

    /// Whether backpressure sets its rate.
    pub fn backpressure(&self) -> bool {
        self.backpressure
    }

    /// Records an error the source carried on from.
    pub fn report_error(&self, message: impl Into<String>) {
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(SourceError {
            at_ms,
            message: message.into(),
        });
    }

    /// The last error the source met, if any.
    pub fn last_error(&self) -> Option<SourceError> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Governed for SourceHandle {
    fn name(&self) -> &str {
        SourceHandle::name(self)
    }

    fn limit(&self) -> &RateLimit {
        SourceHandle::limit(self)
    }

    fn backpressure(&self) -> bool {
        SourceHandle::backpressure(self)
    }
}
