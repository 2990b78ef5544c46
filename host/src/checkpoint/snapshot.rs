//! Turning a running executor's state into a [`StageSnapshot`] list, partition-free, and
//! [`Records`] into bytes a checkpoint can hold.

use super::{KeyedEntry, StageSnapshot, StateSnapshot};
use crate::config::StageSpec;
use crate::record::Records;
use crate::state::StageState;
use serde::{Deserialize, Serialize};

/// A partition's records in a checkpoint: the count and the concatenated values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordsBlob {
    /// How many records.
    pub len: u64,
    /// Their encoded bytes.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

impl From<&Records> for RecordsBlob {
    fn from(records: &Records) -> Self {
        RecordsBlob {
            len: records.len() as u64,
            bytes: records.bytes().to_vec(),
        }
    }
}

impl RecordsBlob {
    /// The records, checked.
    pub fn records(&self) -> Result<Records, String> {
        Records::from_encoded(self.bytes.clone(), self.len as usize).map_err(|e| e.to_string())
    }
}

/// The state of every stateful stage, by name, partitioning flattened away.
pub fn snapshot_state(stages: &[StageSpec], states: &[&StageState]) -> Vec<StageSnapshot> {
    let mut out = Vec::new();
    for (spec, state) in stages.iter().zip(states) {
        let state = match state {
            StageState::Stateless => continue,
            StageState::Keyed(keyed) => StateSnapshot::Keyed(
                (0..keyed.partition_count())
                    .flat_map(|p| keyed.partition(p).iter())
                    .map(|(key, entry)| KeyedEntry {
                        key: key.to_vec(),
                        state: entry.state.to_vec(),
                        touched_ms: entry.touched_ms,
                    })
                    .collect(),
            ),
            StageState::Window(window) => StateSnapshot::Window {
                partials: window
                    .partials
                    .iter()
                    .map(|(t, parts)| (*t, parts.iter().map(RecordsBlob::from).collect()))
                    .collect(),
                previous: window
                    .previous
                    .as_ref()
                    .map(|(t, parts)| (*t, parts.iter().map(RecordsBlob::from).collect())),
            },
        };
        out.push(StageSnapshot {
            name: spec.name.clone(),
            op: spec.op.name().to_string(),
            state,
        });
    }
    out
}
