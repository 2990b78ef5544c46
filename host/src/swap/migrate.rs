//! `#[migrate_state]` at swap and restore time: every key of every keyed-state stage that
//! calls the incoming plugin gets its state turned into the new version's encoding, one
//! plugin call per partition.
//!
//! A migrate function runs once per change of encoding, not once per version: the state
//! records which migrate function (name and signature) its encoding is the output of
//! ([`KeyedState::encoding`]), and a version whose migrate function is that one leaves the
//! state alone. Without it, a version that keeps the function would migrate again states
//! that decode as the old type too (a struct that gained a field, read by serde as the
//! old struct), resetting what the migration adds.

use crate::operator::{BoundFunction, StageError, StageRuntime, first_error};
use crate::plugin::PluginVersion;
use crate::record::Records;
use crate::state::{KeyedState, StateEntry};
use rayon::prelude::*;
use sluice_sdk::wire::{self, Kind};
use std::sync::Arc;

/// A version's migrate function for one stage.
pub struct Migration {
    /// The function to call.
    pub function: BoundFunction,
    /// What names the encoding it produces: `name: signature`.
    pub encoding: String,
}

/// Migrates, with `version`, the keyed state of every stage in `stages` whose function
/// belongs to `version`'s plugin and has a migrate function there, unless the state is
/// already that function's output. Returns each migrated stage's index and state, or the
/// failing stage's name and error. Nothing is replaced here, so a failure leaves every
/// state as it was.
pub fn migrate_stages<'a>(
    stages: &[StageRuntime],
    state_of: impl Fn(usize) -> Option<&'a KeyedState>,
    version: &Arc<PluginVersion>,
) -> Result<Vec<(usize, KeyedState)>, (String, StageError)> {
    let mut migrated = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        let Some(function) = stage
            .function
            .as_ref()
            .filter(|f| f.plugin.name() == version.name())
        else {
            continue;
        };
        let (Some(migration), Some(keyed)) =
            (migration(version, &function.function), state_of(index))
        else {
            continue;
        };
        if keyed.encoding() == Some(migration.encoding.as_str()) {
            tracing::info!(
                "stage `{}`: its state is already the output of `{}` (a version with the same migrate function held it), so it is not migrated again",
                stage.name,
                migration.encoding
            );
            continue;
        }
        let state = migrate(stage, &migration, keyed).map_err(|e| (stage.name.clone(), e))?;
        migrated.push((index, state));
    }
    Ok(migrated)
}

/// The migrate function of `version` for a stage calling `function`: `migrate_<function>`
/// when the plugin has several, the only one otherwise.
pub fn migration(version: &Arc<PluginVersion>, function: &str) -> Option<Migration> {
    let migrations: Vec<_> = version
        .manifest()
        .iter()
        .filter(|e| e.kind == Kind::MigrateState)
        .collect();
    let chosen = match migrations[..] {
        [] => return None,
        [only] => only,
        _ => *migrations
            .iter()
            .find(|m| m.name == format!("migrate_{function}"))?,
    };
    Some(Migration {
        function: BoundFunction {
            plugin: version.clone(),
            function: chosen.name.clone(),
        },
        encoding: format!("{}: {}", chosen.name, chosen.signature),
    })
}

/// The state `state` of `stage` migrated with `migration`, in its encoding. Keys keep
/// their partition and the time they last had data.
pub fn migrate(
    stage: &StageRuntime,
    migration: &Migration,
    state: &KeyedState,
) -> Result<KeyedState, StageError> {
    let parts = first_error(
        (0..state.partition_count())
            .into_par_iter()
            .map(|p| {
                let map = state.partition(p);
                let mut items = Records::with_capacity(map.len() * 32);
                for (key, entry) in map {
                    items.push_pair(key, &entry.state);
                }
                let migrated = if items.is_empty() {
                    Records::new()
                } else {
                    stage.call_bound(Some(&migration.function), &items, 0, 0, p)?
                };
                if migrated.len() != map.len() {
                    return Err(stage.bad_output(
                        p,
                        format!(
                            "migrate_state: {} states in, {} out",
                            map.len(),
                            migrated.len()
                        ),
                    ));
                }
                let mut entries = Vec::with_capacity(map.len());
                for (i, record) in migrated.iter().enumerate() {
                    let (key, new) = wire::split_pair(record)
                        .map_err(|e| stage.bad_output(p, format!("migrate_state item {i}: {e}")))?;
                    let touched_ms = map.get(key).map_or(0, |e| e.touched_ms);
                    entries.push((
                        key.to_vec(),
                        StateEntry {
                            state: new.into(),
                            touched_ms,
                        },
                    ));
                }
                Ok(entries)
            })
            .collect(),
    )?;
    let mut migrated =
        KeyedState::with_encoding(state.partition_count(), Some(migration.encoding.clone()));
    for (key, entry) in parts.into_iter().flatten() {
        migrated.insert(&key, entry);
    }
    Ok(migrated)
}
