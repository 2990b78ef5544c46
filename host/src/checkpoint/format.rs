//! The checkpoint: its contents and their encoding.
//!
//! A checkpoint file is `SLUICECK` (8 bytes), the format version (u32, little endian),
//! the body's length (u64 LE), the body (a MessagePack [`Checkpoint`]) and the xxh3-64
//! of the body (u64 LE). A file whose length, version or checksum does not match is
//! treated as corrupt (a crash while writing, a bad disk) and skipped.

use super::snapshot::RecordsBlob;
use crate::source::Position;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

/// The version of the checkpoint format this build writes and reads.
pub const CHECKPOINT_FORMAT: u32 = 1;

const MAGIC: &[u8; 8] = b"SLUICECK";

/// Everything needed to resume a pipeline after a batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The pipeline's name.
    pub pipeline: String,
    /// Hash of the pipeline file's text when the checkpoint was written.
    pub pipeline_hash: String,
    /// The batch whose state this is: every batch up to it is complete.
    pub batch_time_ms: u64,
    /// Where each source stood after that batch.
    pub sources: Vec<SourcePosition>,
    /// The state of every stateful stage, by name.
    pub stages: Vec<StageSnapshot>,
    /// The content hash of every plugin, by name.
    pub plugins: Vec<(String, String)>,
}

/// A source's position: what it has already given to batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourcePosition {
    /// The source's name.
    pub name: String,
    /// Its position.
    pub position: Position,
}

/// A stateful stage's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageSnapshot {
    /// The stage's name in the pipeline file.
    pub name: String,
    /// Its op, so that a pipeline that changed the op is noticed.
    pub op: String,
    /// The state.
    pub state: StateSnapshot,
    /// Keyed state: the migrate function whose output encoding it is in
    /// ([`crate::state::KeyedState::encoding`]). Absent in checkpoints written before it
    /// was recorded.
    #[serde(default)]
    pub encoding: Option<String>,
}

/// A stage's state, independent of partitioning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StateSnapshot {
    /// Keyed state: blobs of `[key, state, touched_ms]` records (one blob per partition
    /// that held them; a restore re-splits keys by hash at its own partition count).
    Keyed(Vec<RecordsBlob>),
    /// A window's partials, per batch time, and the last window (incremental mode).
    Window {
        /// Per batch time, the partial by partition.
        partials: Vec<(u64, Vec<RecordsBlob>)>,
        /// The last computed window.
        previous: Option<(u64, Vec<RecordsBlob>)>,
    },
}

impl Checkpoint {
    /// The checkpoint as file bytes.
    pub fn encode(&self) -> Result<Vec<u8>, rmp_serde::encode::Error> {
        let body = rmp_serde::to_vec_named(self)?;
        let mut out = Vec::with_capacity(body.len() + 28);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&CHECKPOINT_FORMAT.to_le_bytes());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        out.extend_from_slice(&body);
        out.extend_from_slice(&xxh3_64(&body).to_le_bytes());
        Ok(out)
    }

    /// Reads a checkpoint file's bytes, or says why they are not one.
    pub fn decode(bytes: &[u8]) -> Result<Checkpoint, String> {
        if bytes.len() < 28 || &bytes[..8] != MAGIC {
            return Err("not a sluice checkpoint (bad header)".into());
        }
        let format = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if format != CHECKPOINT_FORMAT {
            return Err(format!(
                "checkpoint format {format}, but this sluice reads format {CHECKPOINT_FORMAT}"
            ));
        }
        let len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes")) as usize;
        if bytes.len() != 20 + len + 8 {
            return Err(format!(
                "truncated: {} bytes for a body of {len}",
                bytes.len()
            ));
        }
        let body = &bytes[20..20 + len];
        let sum = u64::from_le_bytes(bytes[20 + len..].try_into().expect("8 bytes"));
        if xxh3_64(body) != sum {
            return Err("checksum mismatch".into());
        }
        rmp_serde::from_slice(body).map_err(|e| format!("undecodable body: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Descriptor;

    fn sample() -> Checkpoint {
        Checkpoint {
            pipeline: "p".into(),
            pipeline_hash: "abc".into(),
            batch_time_ms: 42,
            sources: vec![SourcePosition {
                name: "g".into(),
                position: Position::After {
                    last: Descriptor::Generated {
                        start_ms: 1,
                        from: 0,
                        to: 10,
                    },
                    taken: vec![],
                },
            }],
            stages: vec![StageSnapshot {
                name: "totals".into(),
                op: "update_state_by_key".into(),
                state: StateSnapshot::Keyed(vec![RecordsBlob {
                    len: 0,
                    bytes: vec![],
                }]),
                encoding: Some("migrate: fn migrate(total: u64) -> Tally".into()),
            }],
            plugins: vec![("wc".into(), "0123456789ab".into())],
        }
    }

    #[test]
    fn round_trips_and_detects_damage() {
        let bytes = sample().encode().unwrap();
        assert_eq!(Checkpoint::decode(&bytes).unwrap(), sample());
        assert!(
            Checkpoint::decode(&bytes[..bytes.len() - 1])
                .unwrap_err()
                .starts_with("truncated")
        );
        let mut flipped = bytes.clone();
        flipped[30] ^= 1;
        assert_eq!(
            Checkpoint::decode(&flipped).unwrap_err(),
            "checksum mismatch"
        );
        let mut future = bytes;
        future[8] = 9;
        assert!(
            Checkpoint::decode(&future)
                .unwrap_err()
                .contains("format 9")
        );
    }

    #[test]
    fn a_stage_snapshot_from_before_the_encoding_was_recorded_reads_as_unknown() {
        #[derive(Serialize)]
        struct Earlier {
            name: String,
            op: String,
            state: StateSnapshot,
        }
        let bytes = rmp_serde::to_vec_named(&Earlier {
            name: "totals".into(),
            op: "update_state_by_key".into(),
            state: StateSnapshot::Keyed(vec![]),
        })
        .unwrap();
        let read: StageSnapshot = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(read.encoding, None);
        assert_eq!(read.state, StateSnapshot::Keyed(vec![]));
    }
}
