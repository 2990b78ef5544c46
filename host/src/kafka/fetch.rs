//! Reading offset ranges: a batch's input, the first time and after a restart. Every
//! range is read whole, one consumer per topic (partitions of one topic come in one
//! fetch stream; topics in parallel), assigned exactly the batch's partitions at the
//! batch's offsets.
//!
//! A range is complete when its last offset has been read, or when the consumer reached
//! the end of the partition and the partition still reaches past the range (the missing
//! offsets were transaction markers or aborted records). While the brokers cannot be
//! reached the read waits and says so: the records are in Kafka and the batch needs
//! them. Records that are gone for good (deleted by retention, a topic deleted, a
//! broker that lost its data) are reported as lost, and the batch goes on without them.

use super::client::{self, Context, Health, REQUEST_TIMEOUT};
use super::codec::{Consumed, push_consumed};
use super::range::OffsetRange;
use crate::config::KafkaFormat;
use crate::record::Records;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one poll waits for a message.
const POLL: Duration = Duration::from_millis(100);
/// How long a read may make no progress before sluice asks the brokers why.
const STALL: Duration = Duration::from_secs(2);
/// How often a read that waits for unreachable brokers says so again.
const REMIND: Duration = Duration::from_secs(30);

/// Reads offset ranges of one source (or of a sink's commits topic).
pub struct Reader {
    label: String,
    brokers: String,
    config: ClientConfig,
    format: KafkaFormat,
    health: Arc<Health>,
    consumers: Mutex<HashMap<String, Arc<BaseConsumer<Context>>>>,
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
            consumers: Mutex::new(HashMap::new()),
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

    fn consumer(&self, topic: &str) -> anyhow::Result<Arc<BaseConsumer<Context>>> {
        let mut consumers = self.consumers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(consumer) = consumers.get(topic) {
            return Ok(consumer.clone());
        }
        let context = Context::new(&self.label, self.health.clone());
        let consumer = Arc::new(client::create::<BaseConsumer<Context>>(
            &self.config,
            context,
        )?);
        consumers.insert(topic.to_string(), consumer.clone());
        Ok(consumer)
    }

    /// The records of `ranges`, one partition per range (at least one partition), in
    /// offset order.
    pub fn read(&self, ranges: &[OffsetRange]) -> Vec<Records> {
        let mut out = vec![Records::new(); ranges.len().max(1)];
        let mut by_topic: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, range) in ranges.iter().enumerate().filter(|(_, r)| !r.is_empty()) {
            by_topic.entry(&range.topic).or_default().push(i);
        }
        let read: Vec<Vec<(usize, Records)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = by_topic
                .into_iter()
                .map(|(topic, indices)| {
                    scope.spawn(move || {
                        let ranges = indices.iter().map(|&i| (i, &ranges[i])).collect();
                        self.read_topic(topic, ranges)
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

    fn read_topic(&self, topic: &str, ranges: Vec<(usize, &OffsetRange)>) -> Vec<(usize, Records)> {
        let empty = |ranges: Vec<(usize, &OffsetRange)>| {
            ranges
                .into_iter()
                .map(|(i, _)| (i, Records::new()))
                .collect()
        };
        let consumer = match self.consumer(topic) {
            Ok(consumer) => consumer,
            Err(e) => {
                tracing::error!("{}: {e:#}; records of topic `{topic}` are lost", self.label);
                return empty(ranges);
            }
        };
        let mut tpl = TopicPartitionList::new();
        for (_, range) in &ranges {
            let _ = tpl.add_partition_offset(topic, range.partition, Offset::Offset(range.from));
        }
        if let Err(e) = consumer.assign(&tpl) {
            tracing::error!(
                "{}: cannot read topic `{topic}`: {e}; its records are lost",
                self.label
            );
            return empty(ranges);
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
                        topic,
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
                        self.diagnose(&consumer, p, &mut waiting);
                    }
                }
                Some(Err(e)) => tracing::debug!("{}: reading `{topic}`: {e}", self.label),
                None => {}
            }
            if progressed.elapsed() >= STALL {
                for p in parts.values_mut().filter(|p| !p.done) {
                    self.diagnose(&consumer, p, &mut waiting);
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
        let _ = consumer.unassign();
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
