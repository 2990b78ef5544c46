//! The seam between the pipeline file and the sources: a [`SourceKind`] per
//! `type = "..."`, defined in the source's own file, reads the kind's keys into its
//! [`SourceSettings`], which open the running [`Source`]. `config/` reads the keys every
//! source has (`type`, `wal`, the rate keys) into a [`SourceSpec`] and hands the rest of
//! the section to the kind, found by name in [`KINDS`](super::KINDS).

use super::{Descriptor, Position, Received, Source, SourceHandle, Wal, WalPos};
use crate::settings::{Location, Reading, TableReader};
use std::any::Any;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A kind of source, as `type = "..."` names it.
pub struct SourceKind {
    /// `type = "..."`.
    pub name: &'static str,
    /// Records arrive whether or not a batch asks for them (a receiver): such a
    /// source may keep them in a write-ahead log (`wal = true`) until a checkpoint.
    pub receives: bool,
    /// At most one source of this kind per pipeline, for this reason.
    pub alone: Option<&'static str>,
    /// Reads the kind's own keys of `[sources.NAME]`; `None` after recording
    /// diagnostics on `r`.
    pub read: fn(&TableReader<'_, '_>, &Reading<'_>) -> Option<Arc<dyn SourceSettings>>,
}

/// A source's settings, as its kind read them: what opens it.
pub trait SourceSettings: fmt::Debug + Send + Sync + Any {
    /// Opens the source, resuming after `opening.position`.
    fn open(&self, opening: Opening<'_>) -> anyhow::Result<Box<dyn Source>>;

    /// Whether its records are lines of text (a string each); otherwise their shape is
    /// known only when they arrive.
    fn lines(&self) -> bool {
        true
    }
}

/// `[sources.NAME]`.
#[derive(Clone, Debug)]
pub struct SourceSpec {
    /// The name stages and sinks use as `input`.
    pub name: String,
    /// `type`.
    pub kind: &'static str,
    /// The kind's own settings.
    pub settings: Arc<dyn SourceSettings>,
    /// `wal`: received records go to a write-ahead log before they join a batch.
    pub wal: bool,
    /// `max_rate`, `backpressure` and `initial_rate`.
    pub rate: RateSpec,
    /// Where the section starts.
    pub at: Location,
}

impl SourceSpec {
    /// The settings, when they are of kind `T`.
    pub fn settings_as<T: SourceSettings>(&self) -> Option<&T> {
        let any: &dyn Any = &*self.settings;
        any.downcast_ref()
    }
}

/// How fast a source may take records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateSpec {
    /// `max_rate`: records per second, at most; no limit when absent.
    pub max_rate: Option<u64>,
    /// `backpressure` (or `[pipeline] backpressure`): the rate follows what the
    /// pipeline keeps up with.
    pub backpressure: bool,
    /// `initial_rate`: the rate backpressure starts at.
    pub initial_rate: Option<u64>,
}

/// What a source opens with.
pub struct Opening<'a> {
    /// The source's name.
    pub name: &'a str,
    /// Its rate limit and status.
    pub handle: Arc<SourceHandle>,
    /// The pipeline's partitions.
    pub partitions: usize,
    /// The batch interval.
    pub interval_ms: u64,
    /// How far the source had got (from the newest checkpoint).
    pub position: &'a Position,
    /// The directory of the source's write-ahead log, when it writes ahead.
    pub(super) wal: Option<PathBuf>,
}

impl Opening<'_> {
    /// What the source gave the last batch before the restart, if any.
    pub fn last(&self) -> Option<&Descriptor> {
        match self.position {
            Position::Start => None,
            Position::After { last, .. } => Some(last),
        }
    }

    /// Directory sources: every file name taken before the restart.
    pub fn taken(&self) -> Vec<String> {
        match self.position {
            Position::After { taken, .. } => taken.clone(),
            Position::Start => Vec::new(),
        }
    }

    /// A receiver's buffer: backed by its write-ahead log (and holding what the log
    /// kept after the last batch) when the source writes ahead.
    pub fn received(&self) -> anyhow::Result<Arc<Received>> {
        let Some(dir) = &self.wal else {
            return Ok(Received::new(self.partitions));
        };
        let wal = Wal::open(dir)?;
        let resume = match self.last() {
            Some(Descriptor::Wal { to, .. }) => *to,
            _ => WalPos::default(),
        };
        let received = Received::with_wal(self.partitions, wal, resume)?;
        if let Some(n) = received.logged() {
            tracing::info!(
                "source `{}`: its write-ahead log holds {n} records received so far",
                self.name
            );
        }
        Ok(received)
    }
}
