//! Turning a running executor's state into a [`StageSnapshot`] list, partition-free, and
//! [`Records`] into bytes a checkpoint can hold.

use super::{StageSnapshot, StateSnapshot};
use crate::config::StageSpec;
use crate::record::Records;
use crate::state::StageState;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sluice_sdk::wire;

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
        let encoding = state.keyed().and_then(|k| k.encoding()).map(str::to_string);
        let state = match state {
            StageState::Stateless => continue,
            // Encoded straight from the maps, partitions in parallel: no allocation per key.
            StageState::Keyed(keyed) => StateSnapshot::Keyed(
                (0..keyed.partition_count())
                    .into_par_iter()
                    .map(|p| {
                        let map = keyed.partition(p);
                        let mut records = Records::with_capacity(map.len() * 32);
                        for (key, entry) in map {
                            records.push_with(|buf| {
                                buf.push(0x93);
                                buf.extend_from_slice(key);
                                buf.extend_from_slice(&entry.state);
                                wire::write_u64(buf, entry.touched_ms);
                            });
                        }
                        RecordsBlob::from(&records)
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
            encoding,
        });
    }
    out
}
