//! A Kafka source's own thread: it commits the offsets of completed batches to the
//! consumer group (only the latest when several wait: committing is for monitoring and
//! for runs without checkpoints, so skipping intermediate offsets loses nothing), probes
//! brokers that went away until they answer, and serves the control client's events.

use crate::kafka::client::{Context, Health, REQUEST_TIMEOUT};
use crate::kafka::range::{OffsetRange, TopicPartition};
use crate::source::Committer;
use crate::source::Descriptor;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Hands the offsets of completed batches to the source's thread.
pub struct GroupCommitter(pub Sender<Vec<OffsetRange>>);

impl Committer for GroupCommitter {
    fn commit(&self, descriptor: &Descriptor) {
        if let Descriptor::Kafka { ranges } = descriptor {
            let _ = self.0.send(ranges.clone());
        }
    }
}

/// The source's own thread: commits offsets to the group (the latest only, when several
/// wait), probes brokers that went away, and serves the control client's events.
pub struct Housekeeper {
    /// What the source is called in messages.
    pub label: String,
    /// The brokers, for messages.
    pub brokers: String,
    /// The consumer group.
    pub group: String,
    /// The source's control client.
    pub control: Arc<BaseConsumer<Context>>,
    /// Whether the brokers answer.
    pub health: Arc<Health>,
}

impl Housekeeper {
    /// Runs until the source and every committer handle are gone.
    pub fn run(self, queue: Receiver<Vec<OffsetRange>>) {
        let mut committed: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        let mut failing = false;
        let mut probed = Instant::now();
        loop {
            let mut latest = match queue.recv_timeout(Duration::from_millis(200)) {
                Ok(ranges) => Some(ranges),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            while let Ok(ranges) = queue.try_recv() {
                latest = Some(ranges);
            }
            // Serves errors and statistics; the control client is never assigned, so it
            // has no messages.
            let _ = self.control.poll(Duration::ZERO);
            if self.health.is_down() && probed.elapsed() >= Duration::from_secs(1) {
                probed = Instant::now();
                if self.control.fetch_metadata(None, REQUEST_TIMEOUT).is_ok()
                    && self.health.came_back()
                {
                    tracing::info!(
                        "{}: the Kafka brokers {} answer again; the next batch reads what was produced meanwhile",
                        self.label,
                        self.brokers
                    );
                }
            }
            let Some(ranges) = latest else { continue };
            let offsets: BTreeMap<TopicPartition, i64> = ranges
                .iter()
                .map(|r| ((r.topic.clone(), r.partition), r.until))
                .filter(|(tp, until)| committed.get(tp) != Some(until))
                .collect();
            if offsets.is_empty() {
                continue;
            }
            let mut tpl = TopicPartitionList::new();
            for ((topic, partition), until) in &offsets {
                let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(*until));
            }
            match self.control.commit(&tpl, CommitMode::Sync) {
                Ok(()) => {
                    committed.extend(offsets);
                    if std::mem::take(&mut failing) {
                        tracing::info!(
                            "{}: committing offsets to group `{}` works again",
                            self.label,
                            self.group
                        );
                    }
                }
                Err(e) => {
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(
                            "{}: cannot commit offsets to group `{}`: {e}; the next batch's offsets will be committed instead (the checkpoint, not the group, is what a restart resumes from)",
                            self.label,
                            self.group
                        );
                    }
                }
            }
        }
    }
}
