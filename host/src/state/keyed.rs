//! Keyed state: per partition, a map from a key's encoded bytes to its encoded state.
//! The host never decodes either; keys are owned by the partition their hash names.

use crate::partition::partition_of;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use xxhash_rust::xxh3::Xxh3Default;

/// One key's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateEntry {
    /// The encoded state.
    pub state: Box<[u8]>,
    /// The batch time the key last received data (map_with_state's timeouts count from
    /// it).
    pub touched_ms: u64,
}

/// The keys of one partition and their state. A fixed hasher, so that iteration order
/// depends only on what was inserted: the same batches give the same output order.
pub type StateMap = HashMap<Box<[u8]>, StateEntry, BuildHasherDefault<Xxh3Default>>;

/// A stage's keyed state, one map per partition.
#[derive(Debug)]
pub struct KeyedState {
    partitions: Vec<StateMap>,
    encoding: Option<String>,
}

/// What a batch changes in one partition's map.
#[derive(Debug, Default)]
pub enum KeyedChange {
    /// Nothing.
    #[default]
    Unchanged,
    /// Keys set (`Some`) or removed (`None`).
    Delta(Vec<(Box<[u8]>, Option<StateEntry>)>),
}

impl KeyedState {
    /// Empty state over `partitions` partitions.
    pub fn new(partitions: usize) -> Self {
        KeyedState {
            partitions: (0..partitions.max(1))
                .map(|_| StateMap::default())
                .collect(),
            encoding: None,
        }
    }

    /// Empty state over `partitions` partitions, in the encoding `encoding` names.
    pub fn with_encoding(partitions: usize, encoding: Option<String>) -> Self {
        KeyedState {
            encoding,
            ..KeyedState::new(partitions)
        }
    }

    /// The migrate function (`name: signature`) whose output encoding the states are in:
    /// the one of the last version that held them and had one. `None` when no version
    /// that held them had a migrate function. A swap or restore runs a migrate function
    /// only when it is not this one, so that state is migrated once per change of
    /// encoding, however many later versions keep the function.
    pub fn encoding(&self) -> Option<&str> {
        self.encoding.as_deref()
    }

    /// The map of partition `p`.
    pub fn partition(&self, p: usize) -> &StateMap {
        &self.partitions[p]
    }

    /// How many partitions the state is split into.
    pub fn partition_count(&self) -> usize {
        self.partitions.len()
    }

    /// How many keys have state.
    pub fn len(&self) -> usize {
        self.partitions.iter().map(HashMap::len).sum()
    }

    /// Whether no key has state.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets a key's state, in the partition its hash names.
    pub fn insert(&mut self, key: &[u8], entry: StateEntry) {
        let p = partition_of(key, self.partitions.len());
        self.partitions[p].insert(key.into(), entry);
    }

    /// Applies one batch's changes, partition by partition.
    pub fn apply(&mut self, changes: Vec<KeyedChange>) {
        for (map, change) in self.partitions.iter_mut().zip(changes) {
            if let KeyedChange::Delta(delta) = change {
                for (key, entry) in delta {
                    match entry {
                        Some(entry) => {
                            map.insert(key, entry);
                        }
                        None => {
                            map.remove(&key);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(state: &[u8]) -> StateEntry {
        StateEntry {
            state: state.into(),
            touched_ms: 1,
        }
    }

    #[test]
    fn keys_live_in_the_partition_of_their_hash_and_deltas_apply() {
        let mut state = KeyedState::new(3);
        state.insert(b"\xa1a", entry(b"\x01"));
        state.insert(b"\xa1b", entry(b"\x02"));
        assert_eq!(state.len(), 2);
        let p = partition_of(b"\xa1a", 3);
        assert_eq!(state.partition(p).get(&b"\xa1a"[..]), Some(&entry(b"\x01")));

        let mut changes: Vec<KeyedChange> = (0..3).map(|_| KeyedChange::Unchanged).collect();
        changes[p] = KeyedChange::Delta(vec![(b"\xa1a"[..].into(), None)]);
        let q = partition_of(b"\xa1c", 3);
        if q != p {
            changes[q] = KeyedChange::Delta(vec![(b"\xa1c"[..].into(), Some(entry(b"\x03")))]);
        } else if let KeyedChange::Delta(d) = &mut changes[p] {
            d.push((b"\xa1c"[..].into(), Some(entry(b"\x03"))));
        }
        state.apply(changes);
        assert_eq!(state.len(), 2);
        assert!(state.partition(p).get(&b"\xa1a"[..]).is_none());
    }
}
