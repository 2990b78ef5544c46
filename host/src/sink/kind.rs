//! The seam between the pipeline file and the sinks: a [`SinkKind`] per
//! `type = "..."`, defined in the sink's own file, reads the kind's keys into its
//! [`SinkSettings`], which open the running [`Sink`]. `config/` reads the keys every
//! sink has (`type`, `input`) into a [`SinkSpec`] and hands the rest of the section to
//! the kind, found by name in [`KINDS`](super::KINDS).

use super::Sink;
use crate::settings::{Location, Reading, TableReader};
use std::any::Any;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A kind of sink, as `type = "..."` names it.
pub struct SinkKind {
    /// `type = "..."`.
    pub name: &'static str,
    /// Reads the kind's own keys of `[sinks.NAME]`; `None` after recording diagnostics
    /// on `r`.
    pub read: fn(&TableReader<'_, '_>, &Reading<'_>) -> Option<Arc<dyn SinkSettings>>,
}

/// A sink's settings, as its kind read them: what opens it.
pub trait SinkSettings: fmt::Debug + Send + Sync + Any {
    /// Opens the sink `name` of the pipeline named `pipeline`.
    fn open(&self, name: &str, pipeline: &str) -> anyhow::Result<Box<dyn Sink>>;

    /// The directory the sink writes in, if any: checked when the file is loaded, so
    /// that a run does not fail only at its first batch.
    fn directory(&self) -> Option<&Path> {
        None
    }
}

/// `[sinks.NAME]`.
#[derive(Clone, Debug)]
pub struct SinkSpec {
    /// The sink's name.
    pub name: String,
    /// The source or stage it writes.
    pub input: String,
    /// Where `input` is written.
    pub input_at: Location,
    /// `type`.
    pub kind: &'static str,
    /// The kind's own settings.
    pub settings: Arc<dyn SinkSettings>,
    /// Where the section starts.
    pub at: Location,
}

impl SinkSpec {
    /// The settings, when they are of kind `T`.
    pub fn settings_as<T: SinkSettings>(&self) -> Option<&T> {
        let any: &dyn Any = &*self.settings;
        any.downcast_ref()
    }
}
