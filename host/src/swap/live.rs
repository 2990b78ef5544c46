//! The one record of which plugin versions are live and which are refused, shared by the
//! engine and the preparer thread. The engine publishes the registry whenever a batch
//! boundary changes it (a swap, a rollback) and refuses versions it rolled back; the
//! preparer reads both, so it compares a changed file with what actually runs, not with
//! its own idea of it.

use crate::plugin::Registry;
use std::collections::HashSet;
use std::sync::{Mutex, RwLock};

/// Live and refused plugin versions.
#[derive(Debug, Default)]
pub struct LiveVersions {
    registry: RwLock<Registry>,
    refused: Mutex<HashSet<String>>,
}

impl LiveVersions {
    /// Starting from the versions in `registry`.
    pub fn new(registry: &Registry) -> Self {
        LiveVersions {
            registry: RwLock::new(registry.clone()),
            refused: Mutex::default(),
        }
    }

    /// The versions the stages call now.
    pub fn registry(&self) -> Registry {
        self.registry
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Publishes `registry` as what the stages call now.
    pub fn publish(&self, registry: &Registry) {
        *self.registry.write().unwrap_or_else(|p| p.into_inner()) = registry.clone();
    }

    /// Keeps the version with content hash `hash` out until the file changes again.
    pub fn refuse(&self, hash: &str) {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash.to_string());
    }

    /// Whether the version with content hash `hash` is refused.
    pub fn is_refused(&self, hash: &str) -> bool {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(hash)
    }
}
