//! Which partition a key belongs to.
//!
//! Keys are hashed by their encoded bytes (xxh3, fixed seed: stable across runs and
//! machines) and the hash space is cut into `n` contiguous ranges. Contiguous ranges
//! mean state written at one partition count can be restored at another by
//! intersecting ranges, instead of rehashing everything.

use xxhash_rust::xxh3::xxh3_64;

/// The stable 64-bit hash of an encoded key.
pub fn key_hash(key: &[u8]) -> u64 {
    xxh3_64(key)
}

/// The partition, of `n`, that owns hash `hash`: the range `[i * 2^64 / n, (i+1) * 2^64 / n)`.
pub fn partition_of_hash(hash: u64, n: usize) -> usize {
    ((hash as u128 * n as u128) >> 64) as usize
}

/// The partition, of `n`, that owns the encoded key `key`.
pub fn partition_of(key: &[u8], n: usize) -> usize {
    partition_of_hash(key_hash(key), n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STABLE_HELLO_HASH: u64 = 5_986_623_180_627_445_660;

    #[test]
    fn hashes_are_stable_across_releases() {
        // A change here moves every key to another partition and breaks restoring
        // state from existing checkpoints.
        assert_eq!(key_hash(b"\xa5hello"), STABLE_HELLO_HASH);
        assert_eq!(partition_of_hash(0, 4), 0);
        assert_eq!(partition_of_hash(u64::MAX, 4), 3);
        assert_eq!(partition_of_hash(u64::MAX / 2, 2), 0);
        assert_eq!(partition_of_hash(u64::MAX / 2 + 1, 2), 1);
    }

    #[test]
    fn keys_spread_over_partitions() {
        let mut counts = [0usize; 4];
        for i in 0..40_000u32 {
            counts[partition_of(format!("word{i}").as_bytes(), 4)] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }

    proptest! {
        #[test]
        fn ranges_nest_when_partition_counts_divide(hash: u64, n in 1usize..64) {
            // Partition i of n is the union of partitions 2i and 2i+1 of 2n.
            prop_assert_eq!(partition_of_hash(hash, 2 * n) / 2, partition_of_hash(hash, n));
            prop_assert!(partition_of_hash(hash, n) < n);
        }
    }
}
