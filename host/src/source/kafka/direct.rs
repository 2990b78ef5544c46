//! The running Kafka source: cuts, replays and the consumer it reads with.

use super::KafkaSourceSpec;
use super::housekeeper::{GroupCommitter, Housekeeper};
use crate::kafka::Reader;
use crate::kafka::TopicSelection;
use crate::kafka::client::{self, Context, Health, REQUEST_TIMEOUT};
use crate::kafka::range::{self, Adjustment, OffsetRange, Origin, TopicPartition, Watermarks};
use crate::rate::BatchMeter;
use crate::record::Records;
use crate::source::{Committer, Cut, Source, SourceBatch, SourceHandle};
use crate::source::{Descriptor, Position};
use crossbeam_channel::Sender;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the source looks up its topics' partitions (new topics, new partitions).
const DISCOVERY_INTERVAL: Duration = Duration::from_secs(5);

/// A Kafka source.
pub struct KafkaSource {
    spec: KafkaSourceSpec,
    pattern: Option<regex::Regex>,
    control: Arc<BaseConsumer<Context>>,
    reader: Arc<Reader>,
    health: Arc<Health>,
    /// Per known partition, the offset the next cut starts at.
    next: BTreeMap<TopicPartition, i64>,
    /// Whether the brokers have answered since the source opened: partitions first seen
    /// then start at `starting_offsets`, later ones at their beginning.
    contacted: bool,
    /// Topics reported missing, so that it is said once.
    missing: BTreeSet<String>,
    /// The partitions last discovered, and when.
    partitions: Option<(Vec<TopicPartition>, Instant)>,
    /// The brokers were unreachable since the last cut that reached them.
    outage: bool,
    commits: Sender<Vec<OffsetRange>>,
    stopped: bool,
    handle: Arc<SourceHandle>,
    /// Holds the cuts to the source's rate limit (`max_rate`, backpressure).
    meter: BatchMeter,
}

impl KafkaSource {
    /// Opens the source `name` for batches `interval_ms` apart, resuming after
    /// `position`. Does not contact the brokers: a pipeline starts while they are down.
    pub fn open(
        handle: Arc<SourceHandle>,
        spec: &KafkaSourceSpec,
        interval_ms: u64,
        position: &Position,
    ) -> anyhow::Result<Self> {
        let name = handle.name().to_string();
        let label = format!("source `{name}`");
        let health = Arc::new(Health::default());
        let config = client::config(&spec.brokers, &spec.properties);
        let mut control_config = config.clone();
        control_config
            .set("group.id", &spec.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("isolation.level", "read_committed");
        let control: Arc<BaseConsumer<Context>> = Arc::new(client::create(
            &control_config,
            Context::new(&label, health.clone()),
        )?);
        let reader = Reader::new(&label, &config, &spec.group_id, spec.format, health.clone());
        reader.check_settings()?;
        let next: BTreeMap<TopicPartition, i64> = match position {
            Position::After {
                last: Descriptor::Kafka { ranges },
                ..
            } => ranges
                .iter()
                .map(|r| ((r.topic.clone(), r.partition), r.until))
                .collect(),
            _ => BTreeMap::new(),
        };
        let topics = match &spec.topics {
            TopicSelection::Names(names) => format!("topics {}", names.join(", ")),
            TopicSelection::Pattern(p) => format!("topics matching `{p}`"),
        };
        if next.is_empty() {
            tracing::info!(
                "{label}: reading {topics} from Kafka brokers {} (group `{}`); each partition starts at the group's committed offset, or else as starting_offsets says",
                spec.brokers.join(","),
                spec.group_id
            );
        } else {
            tracing::info!(
                "{label}: reading {topics} from Kafka brokers {} (group `{}`), resuming at the checkpointed offsets {}",
                spec.brokers.join(","),
                spec.group_id,
                describe(&next)
            );
        }
        let (commits, queue) = crossbeam_channel::unbounded();
        let housekeeper = Housekeeper {
            label: label.clone(),
            brokers: spec.brokers.join(","),
            group: spec.group_id.clone(),
            control: control.clone(),
            health: health.clone(),
        };
        std::thread::Builder::new()
            .name(format!("kafka-{name}"))
            .spawn(move || housekeeper.run(queue))?;
        Ok(KafkaSource {
            pattern: match &spec.topics {
                TopicSelection::Pattern(p) => Some(regex::Regex::new(&format!("^(?:{p})$"))?),
                TopicSelection::Names(_) => None,
            },
            spec: spec.clone(),
            control,
            reader: Arc::new(reader),
            health,
            next,
            contacted: false,
            missing: BTreeSet::new(),
            partitions: None,
            outage: false,
            commits,
            stopped: false,
            handle,
            meter: BatchMeter::new(interval_ms),
        })
    }

    /// Ranges that stay where every partition stands: the cut while the brokers are away.
    fn standing(&self) -> Vec<OffsetRange> {
        self.next
            .iter()
            .map(|((topic, partition), &at)| OffsetRange {
                topic: topic.clone(),
                partition: *partition,
                from: at,
                until: at,
            })
            .collect()
    }

    /// The partitions of the source's topics, as the brokers know them now.
    fn discover(&mut self) -> anyhow::Result<Vec<TopicPartition>> {
        let only = match &self.spec.topics {
            TopicSelection::Names(names) if names.len() == 1 => Some(names[0].as_str()),
            _ => None,
        };
        let metadata = self.control.fetch_metadata(only, REQUEST_TIMEOUT)?;
        let mut found = Vec::new();
        let mut seen = BTreeSet::new();
        for topic in metadata.topics() {
            let wanted = match (&self.spec.topics, &self.pattern) {
                (_, Some(pattern)) => pattern.is_match(topic.name()),
                (TopicSelection::Names(names), None) => names.iter().any(|n| n == topic.name()),
                _ => false,
            };
            if !wanted || topic.error().is_some() || topic.partitions().is_empty() {
                continue;
            }
            seen.insert(topic.name().to_string());
            found.extend(
                topic
                    .partitions()
                    .iter()
                    .map(|p| (topic.name().to_string(), p.id())),
            );
        }
        if let TopicSelection::Names(names) = &self.spec.topics {
            for name in names {
                if !seen.contains(name) && self.missing.insert(name.clone()) {
                    tracing::warn!(
                        "source `{}`: topic `{name}` does not exist on the Kafka brokers {}; it is read once it is created",
                        self.handle.name(),
                        self.spec.brokers.join(",")
                    );
                } else if seen.contains(name) {
                    self.missing.remove(name);
                }
            }
        }
        Ok(found)
    }

    /// Where each of `partitions` ends (`Offset::End`) or begins (`Offset::Beginning`),
    /// in one request per broker. Partitions the brokers did not answer for are absent.
    fn offsets(
        &self,
        partitions: &[TopicPartition],
        which: Offset,
    ) -> anyhow::Result<BTreeMap<TopicPartition, i64>> {
        if partitions.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut tpl = TopicPartitionList::new();
        for (topic, partition) in partitions {
            tpl.add_partition_offset(topic, *partition, which)?;
        }
        let answer = self.control.offsets_for_times(tpl, REQUEST_TIMEOUT)?;
        Ok(answer
            .elements()
            .iter()
            .filter(|e| e.error().is_ok())
            .filter_map(|e| {
                let offset = e.offset().to_raw().filter(|&o| o >= 0)?;
                Some(((e.topic().to_string(), e.partition()), offset))
            })
            .collect())
    }

    /// Where newly seen partitions start: committed group offsets, else the policy.
    fn start_new(
        &mut self,
        new: &[TopicPartition],
        watermarks: &BTreeMap<TopicPartition, Watermarks>,
    ) -> anyhow::Result<()> {
        let new: Vec<&TopicPartition> = new
            .iter()
            .filter(|tp| watermarks.contains_key(*tp))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (topic, partition) in &new {
            tpl.add_partition(topic, *partition);
        }
        let committed: BTreeMap<TopicPartition, i64> = self
            .control
            .committed_offsets(tpl, REQUEST_TIMEOUT)?
            .elements()
            .iter()
            .filter_map(|e| Some(((e.topic().to_string(), e.partition()), e.offset().to_raw()?)))
            .collect();
        let mut by_origin: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for tp in new {
            let (offset, origin) = range::starting_offset(
                &self.spec.starting_offsets,
                tp,
                committed.get(tp).copied(),
                watermarks[tp],
                !self.contacted,
            );
            let why = match origin {
                Origin::Committed => "at the offsets committed by the group",
                Origin::Configured => "as starting_offsets says",
                Origin::Appeared => "at their beginning (they appeared while the source ran)",
            };
            by_origin
                .entry(why)
                .or_default()
                .push(format!("{}/{} at {offset}", tp.0, tp.1));
            self.next.insert(tp.clone(), offset);
        }
        for (why, partitions) in by_origin {
            tracing::info!(
                "source `{}`: starting {} {why}",
                self.handle.name(),
                partitions.join(", ")
            );
        }
        Ok(())
    }

    /// One cut while the brokers answer: where every partition ends (one request), and
    /// where the ones being started or rewound begin. Partitions are looked up again
    /// every few seconds, to see new topics and partitions.
    fn cut_ranges(&mut self, batch_time_ms: u64) -> anyhow::Result<Vec<OffsetRange>> {
        let partitions = match &self.partitions {
            Some((partitions, at)) if at.elapsed() < DISCOVERY_INTERVAL => partitions.clone(),
            _ => {
                let partitions = self.discover()?;
                self.partitions = Some((partitions.clone(), Instant::now()));
                partitions
            }
        };
        let highs = self.offsets(&partitions, Offset::End)?;
        if highs.len() < partitions.len() {
            // A topic deleted, or a partition moving: look again at the next cut.
            self.partitions = None;
        }
        let new: Vec<TopicPartition> = partitions
            .iter()
            .filter(|tp| !self.next.contains_key(*tp))
            .cloned()
            .collect();
        let rewinding = highs
            .iter()
            .filter(|(tp, high)| self.next.get(*tp).is_some_and(|next| next > *high))
            .map(|(tp, _)| tp.clone());
        let need_low: Vec<TopicPartition> = new.iter().cloned().chain(rewinding).collect();
        let lows = self.offsets(&need_low, Offset::Beginning)?;
        let watermarks: BTreeMap<TopicPartition, Watermarks> = highs
            .into_iter()
            .map(|(tp, high)| {
                let low = lows.get(&tp).copied();
                (tp, Watermarks { low, high })
            })
            .collect();
        self.start_new(&new, &watermarks)?;
        self.contacted = true;
        let cut = range::cut(&self.next, &watermarks, self.spec.max_records_per_partition);
        for adjustment in &cut.adjustments {
            match adjustment {
                Adjustment::Deleted {
                    partition,
                    from,
                    to,
                } => tracing::error!(
                    "source `{}`: records {from}..{to} of {}/{} were deleted (retention) before they were read; continuing at {to}",
                    self.handle.name(),
                    partition.0,
                    partition.1
                ),
                Adjustment::Rewound {
                    partition,
                    was,
                    now,
                } => tracing::warn!(
                    "source `{}`: {}/{} now ends before offset {was} where the source stood (the topic was deleted and created again, or the broker lost its data); reading it again from offset {now}",
                    self.handle.name(),
                    partition.0,
                    partition.1
                ),
            }
        }
        if !cut.adjustments.is_empty() {
            // The clients' view of what changed under them is stale: start afresh.
            self.reader.reset();
            self.partitions = None;
        }
        let mut ranges = cut.ranges;
        if let Some(allowed) = self.meter.allowance(self.handle.limit(), batch_time_ms) {
            range::limit_total(&mut ranges, allowed.max(0.0).floor() as u64);
            self.meter.spend(ranges.iter().map(OffsetRange::len).sum());
        }
        for r in &ranges {
            self.next.insert((r.topic.clone(), r.partition), r.until);
        }
        Ok(ranges)
    }
}

/// A Kafka source's cut: an offset range per partition, read when the batch runs, one
/// batch partition per Kafka partition.
struct KafkaCut {
    reader: Arc<Reader>,
    ranges: Vec<OffsetRange>,
}

impl Cut for KafkaCut {
    fn descriptor(&self) -> Descriptor {
        Descriptor::Kafka {
            ranges: self.ranges.clone(),
        }
    }

    fn read(self: Box<Self>, _partitions: usize) -> Vec<Records> {
        self.reader.read(&self.ranges)
    }
}

/// `topic/partition@offset, ...` for messages.
fn describe(next: &BTreeMap<TopicPartition, i64>) -> String {
    next.iter()
        .map(|((t, p), o)| format!("{t}/{p}@{o}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Source for KafkaSource {
    fn cut(&mut self, batch_time_ms: u64) -> SourceBatch {
        let ranges = if self.stopped {
            self.standing()
        } else if self.health.is_down() {
            self.outage = true;
            self.standing()
        } else {
            if std::mem::take(&mut self.outage) {
                // What the clients knew before the outage may no longer hold (a broker
                // that lost its data, topics created again): start them afresh.
                self.reader.reset();
                self.partitions = None;
            }
            match self.cut_ranges(batch_time_ms) {
                Ok(ranges) => ranges,
                Err(e) => {
                    self.outage = true;
                    let why = self.health.last_error().unwrap_or_else(|| format!("{e:#}"));
                    if self.health.went_down() {
                        tracing::warn!(
                            "source `{}`: cannot reach the Kafka brokers {}: {why}; batches are empty until they answer (retrying every second; offsets do not move, no record is lost)",
                            self.handle.name(),
                            self.spec.brokers.join(","),
                        );
                    }
                    self.handle.report_error(format!(
                        "cannot reach the Kafka brokers {}: {why}",
                        self.spec.brokers.join(",")
                    ));
                    self.standing()
                }
            }
        };
        SourceBatch::new(KafkaCut {
            reader: self.reader.clone(),
            ranges,
        })
    }

    fn is_finished(&self) -> bool {
        false
    }

    fn stop(&mut self) {
        self.stopped = true;
    }

    fn replay(
        &mut self,
        descriptor: &Descriptor,
        _partitions: usize,
    ) -> anyhow::Result<Vec<Records>> {
        match descriptor {
            Descriptor::Kafka { ranges } => Ok(self.reader.read(ranges)),
            other => anyhow::bail!("a Kafka source cannot give {other:?} again"),
        }
    }

    fn committer(&self) -> Option<Arc<dyn Committer>> {
        Some(Arc::new(GroupCommitter(self.commits.clone())))
    }

    fn handle(&self) -> &Arc<SourceHandle> {
        &self.handle
    }
}
