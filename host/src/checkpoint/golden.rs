//! Golden files: a checkpoint and a batch journal as this build writes them, checked in
//! under `host/testdata/golden/`. A round trip in memory cannot notice that the format
//! changed; these tests fail when today's code writes other bytes than the checked-in
//! files hold, or cannot read them back as the values they were made from.
//!
//! A deliberate format change bumps [`CHECKPOINT_FORMAT`](super::CHECKPOINT_FORMAT)
//! (and says in `docs/checkpoints.md` what happens to old files), then rewrites the
//! files: `SLUICE_BLESS=1 cargo test -p sluice golden`.

use super::journal::frame;
use super::{Checkpoint, Journal, JournalEntry, SourcePosition, StageSnapshot, StateSnapshot};
use crate::checkpoint::RecordsBlob;
use crate::kafka::OffsetRange;
use crate::source::{Descriptor, Position, WalPos};
use std::path::{Path, PathBuf};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/golden")
        .join(name)
}

/// Compares `bytes` with the golden file `name`, or writes it when blessing.
fn check_bytes(name: &str, bytes: &[u8]) {
    let path = golden(name);
    if std::env::var_os("SLUICE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        return;
    }
    let kept = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; write it with SLUICE_BLESS=1 cargo test -p sluice golden",
            path.display()
        )
    });
    assert!(
        kept == bytes,
        "{} changed: this build writes {} bytes where the checked-in file holds {}. A format \
         change must bump CHECKPOINT_FORMAT; then bless with SLUICE_BLESS=1",
        path.display(),
        bytes.len(),
        kept.len()
    );
}

/// One descriptor of every kind.
fn descriptors() -> Vec<Descriptor> {
    vec![
        Descriptor::Files(vec![PathBuf::from("in/a.txt"), PathBuf::from("in/b.txt")]),
        Descriptor::Generated {
            start_ms: 1_000,
            from: 20,
            to: 30,
        },
        Descriptor::Wal {
            from: WalPos {
                segment: 0,
                offset: 8,
            },
            to: WalPos {
                segment: 1,
                offset: 4_096,
            },
        },
        Descriptor::Volatile { records: 7 },
        Descriptor::Kafka {
            ranges: vec![OffsetRange {
                topic: "events".into(),
                partition: 2,
                from: 100,
                until: 250,
            }],
        },
    ]
}

fn blob(words: &[&str]) -> RecordsBlob {
    let records: crate::record::Records = words.iter().copied().collect();
    RecordsBlob::from(&records)
}

fn checkpoint() -> Checkpoint {
    Checkpoint {
        pipeline: "golden".into(),
        pipeline_hash: "0123456789abcdef".into(),
        batch_time_ms: 5_000,
        sources: descriptors()
            .into_iter()
            .enumerate()
            .map(|(i, last)| SourcePosition {
                name: format!("source{i}"),
                position: Position::After {
                    last,
                    taken: vec!["a.txt".into()],
                },
            })
            .chain([SourcePosition {
                name: "idle".into(),
                position: Position::Start,
            }])
            .collect(),
        stages: vec![
            StageSnapshot {
                name: "counts".into(),
                op: "update_state_by_key".into(),
                state: StateSnapshot::Keyed(vec![blob(&["k", "v"])]),
                encoding: Some("migrate: fn(u64) -> u64".into()),
            },
            StageSnapshot {
                name: "windowed".into(),
                op: "reduce_by_key_and_window".into(),
                state: StateSnapshot::Window {
                    partials: vec![(4_000, vec![blob(&["p"])])],
                    previous: Some((4_000, vec![blob(&["w"])])),
                },
                encoding: None,
            },
        ],
        plugins: vec![("wordcount".into(), "feedface".into())],
    }
}

fn journal() -> Vec<JournalEntry> {
    vec![
        JournalEntry::new(1_000, descriptors()),
        JournalEntry::new(2_000, vec![Descriptor::Volatile { records: 3 }]),
        JournalEntry {
            batch_time_ms: 2_000,
            sources: Vec::new(),
            completed: true,
        },
    ]
}

#[test]
fn golden_checkpoint_is_written_and_read_as_before() {
    let bytes = checkpoint().encode().unwrap();
    check_bytes("checkpoint-v1.ck", &bytes);
    let kept = std::fs::read(golden("checkpoint-v1.ck")).unwrap();
    assert_eq!(Checkpoint::decode(&kept).unwrap(), checkpoint());
}

#[test]
fn golden_journal_is_written_and_read_as_before() {
    let bytes: Vec<u8> = journal().iter().flat_map(frame).collect();
    check_bytes("journal.log", &bytes);
    let dir = std::env::temp_dir().join(format!("sluice-golden-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(golden("journal.log"), dir.join("journal.log")).unwrap();
    let (_, entries) = Journal::open(&dir).unwrap();
    let mut expected = journal();
    expected.pop();
    expected[1].completed = true;
    assert_eq!(entries, expected);
    std::fs::remove_dir_all(&dir).unwrap();
}
