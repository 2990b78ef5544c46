//! Offset ranges: what a Kafka source gives one batch, and how a cut computes them from
//! where each partition stands and its watermarks. Pure functions, no client: the cut's
//! arithmetic is tested here with made-up watermarks.

use super::StartingOffsets;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A topic and a partition of it.
pub type TopicPartition = (String, i32);

/// Records `from..until` of one topic-partition: one batch partition. Offsets inside the
/// range that hold no record for a consumer (transaction markers, aborted records) are
/// simply absent from the batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetRange {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The first offset.
    pub from: i64,
    /// One past the last offset: where the next batch starts.
    pub until: i64,
}

impl OffsetRange {
    /// How many offsets the range spans.
    pub fn len(&self) -> u64 {
        (self.until - self.from).max(0) as u64
    }

    /// Whether the range spans no offset.
    pub fn is_empty(&self) -> bool {
        self.until <= self.from
    }

    /// `topic/partition`, as messages name it.
    pub fn name(&self) -> String {
        format!("{}/{}", self.topic, self.partition)
    }
}

/// The oldest offset a partition still holds and the offset its next record will get
/// (for a read-committed consumer, the last stable offset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watermarks {
    /// The earliest offset available, when it was asked: a cut needs it only for
    /// partitions it starts or rewinds (reading a range finds records deleted before they
    /// were read by itself), so it asks only for those.
    pub low: Option<i64>,
    /// The end of the partition.
    pub high: i64,
}

/// A partition whose position had to move before a cut could be taken from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Adjustment {
    /// The records `from..to` were deleted (retention) before the source read them.
    Deleted {
        /// The partition.
        partition: TopicPartition,
        /// Where the source stood.
        from: i64,
        /// The earliest offset still there, where it continues.
        to: i64,
    },
    /// The partition ends before the source's position: it was deleted and created
    /// again, or the broker lost its data. The source starts over at its beginning.
    Rewound {
        /// The partition.
        partition: TopicPartition,
        /// Where the source stood.
        was: i64,
        /// Where it continues: the earliest offset now there.
        now: i64,
    },
}

/// The ranges of one cut, and the positions that had to move first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cut {
    /// One range per known partition, in (topic, partition) order.
    pub ranges: Vec<OffsetRange>,
    /// Positions moved before cutting.
    pub adjustments: Vec<Adjustment>,
}

/// Cuts a batch: for every partition in `next` (the offset it reads next), the range
/// `next..min(high, next + max)`. A partition without watermarks (its topic is
/// momentarily unknown) gets an empty range where it stands. Positions outside
/// `low..=high` are moved first, and reported.
pub fn cut(
    next: &BTreeMap<TopicPartition, i64>,
    watermarks: &BTreeMap<TopicPartition, Watermarks>,
    max_per_partition: Option<u64>,
) -> Cut {
    let mut out = Cut::default();
    for (tp, &position) in next {
        let mut from = position;
        let until = match watermarks.get(tp) {
            None => from,
            Some(w) => {
                if w.high < from {
                    let now = w.low.unwrap_or(0).min(w.high);
                    out.adjustments.push(Adjustment::Rewound {
                        partition: tp.clone(),
                        was: from,
                        now,
                    });
                    from = now;
                } else if let Some(low) = w.low.filter(|&low| from < low) {
                    out.adjustments.push(Adjustment::Deleted {
                        partition: tp.clone(),
                        from,
                        to: low,
                    });
                    from = low;
                }
                let cap = max_per_partition.map_or(i64::MAX, |m| from.saturating_add(m as i64));
                w.high.min(cap).max(from)
            }
        };
        out.ranges.push(OffsetRange {
            topic: tp.0.clone(),
            partition: tp.1,
            from,
            until,
        });
    }
    out
}

/// Shortens `ranges` so that together they span at most `allowed` offsets, shared
/// fairly: every partition gets an equal share, and what a short partition leaves goes
/// to the others. A rate limit on a source thus slows all of its partitions alike.
pub fn limit_total(ranges: &mut [OffsetRange], allowed: u64) {
    let mut wanted: Vec<u64> = ranges.iter().map(OffsetRange::len).collect();
    if wanted.iter().sum::<u64>() <= allowed {
        return;
    }
    let mut granted = vec![0u64; ranges.len()];
    let mut left = allowed;
    loop {
        let open: Vec<usize> = (0..ranges.len()).filter(|&i| wanted[i] > 0).collect();
        if open.is_empty() || left == 0 {
            break;
        }
        let share = (left / open.len() as u64).max(1);
        for i in open {
            let take = share.min(wanted[i]).min(left);
            granted[i] += take;
            wanted[i] -= take;
            left -= take;
        }
    }
    for (range, granted) in ranges.iter_mut().zip(granted) {
        range.until = range.from + granted as i64;
    }
}

/// Where a partition starts when the checkpoint does not know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The group's committed offset.
    Committed,
    /// `starting_offsets`.
    Configured,
    /// A partition that appeared while the source ran: all of its records are new.
    Appeared,
}

/// The offset a partition first seen by this source starts at: the group's committed
/// offset if there is one, else `starting_offsets` (when the partition was there at the
/// source's first contact with the brokers), else the partition's beginning (it appeared
/// later, so every record in it is new).
pub fn starting_offset(
    policy: &StartingOffsets,
    tp: &TopicPartition,
    committed: Option<i64>,
    watermarks: Watermarks,
    at_first_contact: bool,
) -> (i64, Origin) {
    if let Some(offset) = committed.filter(|&o| o >= 0) {
        return (offset, Origin::Committed);
    }
    let low = watermarks.low.unwrap_or(0);
    if !at_first_contact {
        return (low, Origin::Appeared);
    }
    let offset = match policy {
        StartingOffsets::Earliest => low,
        StartingOffsets::Latest => watermarks.high,
        StartingOffsets::Specific(topics) => {
            match topics.get(&tp.0).and_then(|p| p.get(&tp.1)).copied() {
                Some(-1) => watermarks.high,
                Some(-2) | None => low,
                Some(offset) => offset,
            }
        }
    };
    (offset, Origin::Configured)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> TopicPartition {
        (t.to_string(), p)
    }

    fn range(t: &str, p: i32, from: i64, until: i64) -> OffsetRange {
        OffsetRange {
            topic: t.into(),
            partition: p,
            from,
            until,
        }
    }

    fn marks(pairs: &[(TopicPartition, i64, i64)]) -> BTreeMap<TopicPartition, Watermarks> {
        pairs
            .iter()
            .map(|(tp, low, high)| {
                (
                    tp.clone(),
                    Watermarks {
                        low: Some(*low),
                        high: *high,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn a_cut_takes_up_to_the_high_watermark_capped_per_partition() {
        let next = BTreeMap::from([(tp("b", 0), 10), (tp("a", 1), 0), (tp("a", 0), 5)]);
        let w = marks(&[
            (tp("a", 0), 0, 5),
            (tp("a", 1), 0, 1000),
            (tp("b", 0), 0, 12),
        ]);
        let unlimited = cut(&next, &w, None);
        assert_eq!(
            unlimited.ranges,
            [
                range("a", 0, 5, 5),
                range("a", 1, 0, 1000),
                range("b", 0, 10, 12)
            ],
            "in (topic, partition) order: batch partition i is range i"
        );
        assert!(unlimited.adjustments.is_empty());
        let capped = cut(&next, &w, Some(100));
        assert_eq!(capped.ranges[1], range("a", 1, 0, 100));
        assert_eq!(capped.ranges[2], range("b", 0, 10, 12));
    }

    #[test]
    fn a_low_watermark_not_asked_moves_nothing() {
        let next = BTreeMap::from([(tp("a", 0), 3)]);
        let w = BTreeMap::from([(tp("a", 0), Watermarks { low: None, high: 9 })]);
        let out = cut(&next, &w, None);
        assert_eq!(out.ranges, [range("a", 0, 3, 9)]);
        assert!(out.adjustments.is_empty());
    }

    #[test]
    fn a_partition_without_watermarks_stays_where_it_is() {
        let next = BTreeMap::from([(tp("a", 0), 7)]);
        let out = cut(&next, &BTreeMap::new(), Some(3));
        assert_eq!(out.ranges, [range("a", 0, 7, 7)]);
    }

    #[test]
    fn deleted_records_and_a_shorter_log_move_the_position_and_say_so() {
        let next = BTreeMap::from([(tp("a", 0), 3), (tp("a", 1), 500)]);
        let w = marks(&[(tp("a", 0), 10, 20), (tp("a", 1), 0, 40)]);
        let out = cut(&next, &w, None);
        assert_eq!(out.ranges, [range("a", 0, 10, 20), range("a", 1, 0, 40)]);
        assert_eq!(
            out.adjustments,
            [
                Adjustment::Deleted {
                    partition: tp("a", 0),
                    from: 3,
                    to: 10
                },
                Adjustment::Rewound {
                    partition: tp("a", 1),
                    was: 500,
                    now: 0
                }
            ]
        );
    }

    #[test]
    fn starting_offsets_prefer_the_group_then_the_policy() {
        let w = Watermarks {
            low: Some(4),
            high: 90,
        };
        let a0 = tp("a", 0);
        let policy = StartingOffsets::Latest;
        assert_eq!(
            starting_offset(&policy, &a0, Some(50), w, true),
            (50, Origin::Committed)
        );
        assert_eq!(
            starting_offset(&policy, &a0, None, w, true),
            (90, Origin::Configured)
        );
        assert_eq!(
            starting_offset(&StartingOffsets::Earliest, &a0, Some(-1001), w, true),
            (4, Origin::Configured),
            "librdkafka's 'no committed offset' is not an offset"
        );
        assert_eq!(
            starting_offset(&policy, &a0, None, w, false),
            (4, Origin::Appeared),
            "a partition that appears later is read from its beginning"
        );
        let specific = StartingOffsets::Specific(BTreeMap::from([(
            "a".to_string(),
            BTreeMap::from([(0, 42), (1, -1), (2, -2)]),
        )]));
        let at = |p| starting_offset(&specific, &tp("a", p), None, w, true).0;
        assert_eq!([at(0), at(1), at(2), at(3)], [42, 90, 4, 4]);
    }

    fn spans(ranges: &[OffsetRange]) -> Vec<u64> {
        ranges.iter().map(OffsetRange::len).collect()
    }

    fn ranges_of(lengths: &[i64]) -> Vec<OffsetRange> {
        lengths
            .iter()
            .enumerate()
            .map(|(p, &len)| OffsetRange {
                topic: "t".into(),
                partition: p as i32,
                from: 100,
                until: 100 + len,
            })
            .collect()
    }

    #[test]
    fn a_rate_limit_is_shared_fairly_and_what_a_short_partition_leaves_goes_to_the_rest() {
        let mut ranges = ranges_of(&[1_000, 10, 1_000, 0]);
        limit_total(&mut ranges, 211);
        assert_eq!(spans(&ranges), [101, 10, 100, 0]);
        let mut ranges = ranges_of(&[5, 5]);
        limit_total(&mut ranges, 100);
        assert_eq!(spans(&ranges), [5, 5]);
        let mut ranges = ranges_of(&[5, 5, 5]);
        limit_total(&mut ranges, 0);
        assert_eq!(spans(&ranges), [0, 0, 0]);
        assert!(ranges.iter().all(|r| r.from == 100));
    }
}
