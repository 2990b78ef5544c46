//! Reading offset ranges: a batch's input, the first time and after a restart. Every
//! range is read whole; partitions are read in parallel, each consumer assigned exactly
//! some of the batch's partitions (never two with the same number, so that the end of a
//! partition, which librdkafka reports by number, is unambiguous) at the batch's offsets.
//!
//! A range is complete when its last offset has been read, or when the consumer reached
//! the end of the partition and the partition still reaches past the range (the missing
//! offsets were transaction markers or aborted records). While the brokers cannot be
//! reached the read waits and says so: the records are in Kafka and the batch needs
//! them. Records that are gone for good (deleted by retention, a topic deleted, a
//! broker that lost its data) are reported as lost, and the batch goes on without them.

use super::KafkaFormat;
use super::client::{self, Context, Health, REQUEST_TIMEOUT};
use super::codec::{Consumed, push_consumed};
use super::range::OffsetRange;
use crate::record::Records;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one poll waits for a message.
const POLL: Duration = Duration::from_millis(100);
/// How long a read may make no progress before sluice asks the brokers why.
const STALL: Duration = Duration::from_secs(2);
/// How often a read that waits for unreachable brokers says so again.
const REMIND: Duration = Duration::from_secs(30);
/// The most consumers one read uses: partitions are read in parallel, up to this many.
pub const READERS: usize = 8;

/// Reads offset ranges of one source (or of a sink's commits topic).
pub struct Reader {
    label: String,
    brokers: String,
    config: ClientConfig,
    format: KafkaFormat,
    health: Arc<Health>,
    /// Consumers between reads.
    consumers: Mutex<Vec<BaseConsumer<Context>>>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reader({})", self.label)
    }
}

/// One range being read.
struct Progress<'r> {
    index: usize,
    range: &'r OffsetRange,
    /// The offset expected next.
    next: i64,
    /// The consumer reported the end of the partition.
    at_end: bool,
    done: bool,
    records: Records,
}

impl Reader {
    /// A reader for the client of `label` (like "source `events`"). `config` holds the
    /// brokers and the user's properties; `group_id` is needed by librdkafka to assign
    /// partitions (nothing is committed from here).
    pub fn new(
        label: &str,
        config: &ClientConfig,
        group_id: &str,
        format: KafkaFormat,
        health: Arc<Health>,
    ) -> Self {
        let mut config = config.clone();
        config
            .set("group.id", group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "error")
            .set("isolation.level", "read_committed")
            .set("fetch.wait.max.ms", "100");
        Reader {
            label: label.to_string(),
            brokers: config
                .get("bootstrap.servers")
                .unwrap_or_default()
                .to_string(),
            config,
            format,
            health,
            consumers: Mutex::new(Vec::new()),
        }
    }

    /// Checks that the settings make a client, so that a bad property is reported when
    /// the pipeline starts rather than at its first batch.
    pub fn check_settings(&self) -> anyhow::Result<()> {
        let context = Context::new(&self.label, self.health.clone());
        client::create::<BaseConsumer<Context>>(&self.config, context).map(drop)
    }

    /// Drops the consumers, so that the next read starts with fresh ones. After brokers
    /// lost their data or topics were created again, a consumer's cached view of them
    /// is stale (and librdkafka 2.12 has been seen to crash on it, against tansu).
    pub fn reset(&self) {
        self.consumers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// A consumer from the pool, or a new one.
    fn take_consumer(&self) -> anyhow::Result<BaseConsumer<Context>> {
        if let Some(consumer) = self
            .consumers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
        {
            return Ok(consumer);
        }
        let context = Context::new(&self.label, self.health.clone());
        client::create::<BaseConsumer<Context>>(&self.config, context)
    }

    /// The records of `ranges`, one partition per range (at least one partition), in
    /// offset order. Partitions are read in parallel, by up to [`READERS`] consumers.
    pub fn read(&self, ranges: &[OffsetRange]) -> Vec<Records> {
        let mut out = vec![Records::new(); ranges.len().max(1)];
        let read: Vec<Vec<(usize, Records)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = groups(ranges, READERS)
                .into_iter()
                .map(|group| {
                    scope.spawn(move || {
                        self.read_group(group.iter().map(|&i| (i, &ranges[i])).collect())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for (i, records) in read.into_iter().flatten() {
            out[i] = records;
        }
        out
    }

    /// Reads ranges of distinct partition numbers with one consumer.
    fn read_group(&self, ranges: Vec<(usize, &OffsetRange)>) -> Vec<(usize, Records)> {
        let consumer = match self.take_consumer() {
            Ok(consumer) => consumer,
            Err(e) => {
                tracing::error!(
                    "{}: {e:#}; the batch goes on without its records",
                    self.label
                );
                return ranges
                    .into_iter()
                    .map(|(i, _)| (i, Records::new()))
                    .collect();
            }
        };
        let read = self.read_with(&consumer, ranges);
        let _ = consumer.unassign();
        self.consumers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(consumer);
        read
    }

    fn read_with(
        &self,
        consumer: &BaseConsumer<Context>,
        ranges: Vec<(usize, &OffsetRange)>,
    ) -> Vec<(usize, Records)> {
        let mut tpl = TopicPartitionList::new();
        for (_, range) in &ranges {
            let _ =
                tpl.add_partition_offset(&range.topic, range.partition, Offset::Offset(range.from));
        }
        if let Err(e) = consumer.assign(&tpl) {
            let names: Vec<String> = ranges.iter().map(|(_, r)| r.name()).collect();
            tracing::error!(
                "{}: cannot read {}: {e}; the batch goes on without their records",
                self.label,
                names.join(", ")
            );
            return ranges
                .into_iter()
                .map(|(i, _)| (i, Records::new()))
                .collect();
        }
        let mut parts: BTreeMap<i32, Progress<'_>> = ranges
            .into_iter()
            .map(|(index, range)| {
                let progress = Progress {
                    index,
                    range,
                    next: range.from,
                    at_end: false,
                    done: false,
                    records: Records::with_capacity(range.len() as usize * 16),
                };
                (range.partition, progress)
            })
            .collect();
        let mut progressed = Instant::now();
        let mut waiting: Option<Instant> = None;
        while parts.values().any(|p| !p.done) {
            match consumer.poll(POLL) {
                Some(Ok(message)) => {
                    progressed = Instant::now();
                    let Some(p) = parts.get_mut(&message.partition()) else {
                        continue;
                    };
                    let offset = message.offset();
                    if p.done || offset < p.next {
                        continue;
                    }
                    if offset >= p.range.until {
                        p.done = true;
                        continue;
                    }
                    let consumed = Consumed {
                        key: message.key(),
                        value: message.payload(),
                        topic: &p.range.topic,
                        partition: p.range.partition,
                        offset,
                        timestamp: message.timestamp().to_millis(),
                    };
                    push_consumed(&mut p.records, self.format, &consumed);
                    p.next = offset + 1;
                    p.done = p.next >= p.range.until;
                }
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    progressed = Instant::now();
                    if let Some(p) = parts.get_mut(&partition).filter(|p| !p.done) {
                        p.at_end = true;
                        self.diagnose(consumer, p, &mut waiting);
                    }
                }
                Some(Err(e)) => tracing::debug!("{}: reading: {e}", self.label),
                None => {}
            }
            if progressed.elapsed() >= STALL {
                for p in parts.values_mut().filter(|p| !p.done) {
                    self.diagnose(consumer, p, &mut waiting);
                }
                progressed = Instant::now();
            }
        }
        if let Some(since) = waiting {
            tracing::info!(
                "{}: the Kafka brokers {} are back; read what the batch needed after waiting {} s",
                self.label,
                self.brokers,
                since.elapsed().as_secs()
            );
        }
        parts.into_values().map(|p| (p.index, p.records)).collect()
    }

    /// Asks the brokers where a range that is not complete stands: finishes it when
    /// what is missing can never come, moves past records deleted before they could be
    /// read, and says so when the brokers cannot be reached.
    fn diagnose(
        &self,
        consumer: &BaseConsumer<Context>,
        p: &mut Progress<'_>,
        waiting: &mut Option<Instant>,
    ) {
        let (topic, partition, until) = (&p.range.topic, p.range.partition, p.range.until);
        let name = p.range.name();
        match consumer.fetch_watermarks(topic, partition, REQUEST_TIMEOUT) {
            Err(e) if client::is_unknown_topic(&e) => {
                tracing::error!(
                    "{}: records {}..{until} of {name} are lost: the brokers no longer have {name} ({e}); the batch goes on without them",
                    self.label,
                    p.next
                );
                p.done = true;
            }
            Err(e) => {
                let remind = waiting.is_none_or(|since| since.elapsed() >= REMIND);
                if remind {
                    tracing::warn!(
                        "{}: waiting for the Kafka brokers {} to read records {}..{until} of {name} that a batch holds: {}; retrying until they answer, nothing is skipped",
                        self.label,
                        self.brokers,
                        p.next,
                        self.health.last_error().unwrap_or_else(|| e.to_string())
                    );
                    *waiting = Some(Instant::now());
                }
            }
            Ok((_, high)) if high < until => {
                tracing::error!(
                    "{}: records {}..{until} of {name} are lost: the partition now ends at offset {high} (it was deleted and created again, or the broker lost data); the batch goes on without them",
                    self.label,
                    p.next.max(high)
                );
                p.done = true;
            }
            Ok((low, _)) if p.next < low => {
                tracing::error!(
                    "{}: records {}..{} of {name} are lost: they were deleted (retention) before they could be read",
                    self.label,
                    p.next,
                    low.min(until)
                );
                if low >= until {
                    p.done = true;
                } else if consumer
                    .seek(topic, partition, Offset::Offset(low), REQUEST_TIMEOUT)
                    .is_ok()
                {
                    p.next = low;
                }
            }
            // The partition reaches past the range and the consumer is at its end: the
            // offsets not delivered were transaction markers or aborted records.
            Ok(_) if p.at_end => p.done = true,
            Ok(_) => {}
        }
    }
}

/// Groups the indices of the non-empty `ranges` for `readers` consumers, round robin,
/// never two ranges with the same partition number in one group (more groups only when
/// partition numbers force it).
pub fn groups(ranges: &[OffsetRange], readers: usize) -> Vec<Vec<usize>> {
    let readers = readers.max(1);
    let mut groups: Vec<(Vec<usize>, BTreeSet<i32>)> = Vec::new();
    let non_empty = ranges.iter().enumerate().filter(|(_, r)| !r.is_empty());
    for (n, (i, range)) in non_empty.enumerate() {
        let round_robin = (0..readers).map(|k| (n + k) % readers);
        let extra = readers..groups.len().max(readers);
        let g = round_robin
            .chain(extra)
            .find(|&g| {
                groups
                    .get(g)
                    .is_none_or(|(_, held)| !held.contains(&range.partition))
            })
            .unwrap_or(groups.len().max(readers));
        if groups.len() <= g {
            groups.resize_with(g + 1, Default::default);
        }
        groups[g].0.push(i);
        groups[g].1.insert(range.partition);
    }
    groups
        .into_iter()
        .map(|(indices, _)| indices)
        .filter(|g| !g.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(spec: &[(&str, i32, i64)]) -> Vec<OffsetRange> {
        spec.iter()
            .map(|&(topic, partition, len)| OffsetRange {
                topic: topic.into(),
                partition,
                from: 10,
                until: 10 + len,
            })
            .collect()
    }

    #[test]
    fn partitions_are_spread_over_readers_never_two_of_a_number_together() {
        let four = ranges(&[("a", 0, 5), ("a", 1, 5), ("a", 2, 0), ("a", 3, 5)]);
        assert_eq!(
            groups(&four, 8),
            [vec![0], vec![1], vec![3]],
            "empty ranges are not read"
        );
        let ten: Vec<_> = (0..10).map(|p| ("a", p, 1)).collect();
        let spread = groups(&ranges(&ten), 4);
        assert_eq!(
            spread.iter().map(Vec::len).collect::<Vec<_>>(),
            [3, 3, 2, 2]
        );
        let two_topics = ranges(&[
            ("a", 0, 1),
            ("a", 1, 1),
            ("b", 0, 1),
            ("b", 1, 1),
            ("c", 0, 1),
        ]);
        for readers in 1..4 {
            let grouped = groups(&two_topics, readers);
            let mut all: Vec<usize> = grouped.concat();
            all.sort();
            assert_eq!(all, [0, 1, 2, 3, 4]);
            for group in &grouped {
                let numbers: BTreeSet<i32> =
                    group.iter().map(|&i| two_topics[i].partition).collect();
                assert_eq!(
                    numbers.len(),
                    group.len(),
                    "{grouped:?} with {readers} readers"
                );
            }
        }
    }
}
