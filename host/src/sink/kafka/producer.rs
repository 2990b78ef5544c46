//! The running Kafka sink: an idempotent (or transactional) producer.

use super::commits;
use super::{KafkaSinkSpec, TransactionSpec};
use crate::kafka::client::{self, Context, Health};
use crate::kafka::to_message;
use crate::shutdown::Shutdown;
use crate::sink::{Sink, SinkBatch};
use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, PurgeConfig, ThreadedProducer};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long transaction calls may wait for the brokers before the batch fails. They
/// wait in steps of [`FLUSH_STEP`], looking at the stop signal between steps.
pub(super) const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a flush that waits for the brokers says so.
const REMIND: Duration = Duration::from_secs(10);
/// How long one wait of a flush lasts before it looks at the stop signal.
const FLUSH_STEP: Duration = Duration::from_secs(1);

/// Delivery outcomes of the batch being written.
#[derive(Default)]
struct Deliveries {
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

/// The producer's context: a client [`Context`] that also counts failed deliveries.
struct SinkContext {
    client: Context,
    deliveries: Arc<Deliveries>,
}

impl ClientContext for SinkContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.client.log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.client.error(error, reason);
    }
}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.deliveries.failed.fetch_add(1, Ordering::SeqCst);
            let mut first = self
                .deliveries
                .first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            first.get_or_insert_with(|| e.to_string());
        }
    }
}

/// A Kafka sink.
pub struct KafkaSink {
    label: String,
    spec: KafkaSinkSpec,
    pipeline: String,
    /// Brokers and the user's properties: for the admin client and consumers.
    base: ClientConfig,
    /// `base` with the producer's settings.
    config: ClientConfig,
    health: Arc<Health>,
    deliveries: Arc<Deliveries>,
    producer: Option<ThreadedProducer<SinkContext>>,
    /// Transactional: the last batch time in the commits topic, once read.
    committed: Option<Option<u64>>,
    /// The run's stop signal: a flush waiting for the brokers gives up once it is raised.
    shutdown: Option<Shutdown>,
}

impl KafkaSink {
    /// A sink `name` of `pipeline`. Does not contact the brokers.
    pub fn open(name: &str, pipeline: &str, spec: &KafkaSinkSpec) -> anyhow::Result<Self> {
        let base = client::config(&spec.brokers, &spec.properties);
        let mut config = base.clone();
        config
            .set("enable.idempotence", "true")
            // Java clients' partitioner: a key goes where their producers put it.
            .set("partitioner", "murmur2_random")
            .set("queue.buffering.max.messages", "1000000");
        if let Some(TransactionSpec { id, .. }) = &spec.transaction {
            config.set("transactional.id", id);
        }
        let mut sink = KafkaSink {
            label: format!("sink `{name}`"),
            spec: spec.clone(),
            pipeline: pipeline.to_string(),
            base,
            config,
            health: Arc::new(Health::default()),
            deliveries: Arc::default(),
            producer: None,
            committed: None,
            shutdown: None,
        };
        sink.producer()?;
        Ok(sink)
    }

    fn producer(&mut self) -> anyhow::Result<&ThreadedProducer<SinkContext>> {
        if self.producer.is_none() {
            let context = SinkContext {
                client: Context::new(&self.label, self.health.clone()),
                deliveries: self.deliveries.clone(),
            };
            let producer = self.config.create_with_context(context).map_err(|e| {
                anyhow::anyhow!("cannot create the Kafka producer: {e} (check the `properties`)")
            })?;
            self.producer = Some(producer);
        }
        Ok(self.producer.as_ref().expect("just created"))
    }

    /// Transactional: fences earlier producers with this id and reads the last batch
    /// committed, once.
    fn last_committed(&mut self, transaction: &TransactionSpec) -> anyhow::Result<Option<u64>> {
        if let Some(last) = self.committed {
            return Ok(last);
        }
        commits::ensure_topic(
            &self.base,
            &self.label,
            &transaction.commits_topic,
            &self.health,
        )?;
        let shutdown = self.shutdown.clone();
        let producer = self.producer()?;
        in_steps(shutdown.as_ref(), |step| producer.init_transactions(step)).map_err(|e| {
            anyhow::anyhow!(
                "cannot start transactions with id `{}` on the Kafka brokers {}: {e}",
                transaction.id,
                self.spec.brokers.join(",")
            )
        })?;
        let last = commits::last_committed(&self.base, &self.label, transaction, &self.health)?;
        match last {
            Some(time) => tracing::info!(
                "{}: the last batch committed to `{}` with transactional id `{}` is {time}",
                self.label,
                self.spec.topic,
                transaction.id
            ),
            None => tracing::info!(
                "{}: no batch was committed with transactional id `{}` yet",
                self.label,
                transaction.id
            ),
        }
        self.committed = Some(last);
        Ok(last)
    }

    /// Queues every record of the batch, waiting for room when the queue is full.
    fn send_all(&mut self, batch: &SinkBatch<'_>) -> anyhow::Result<u64> {
        let topic = self.spec.topic.clone();
        let shutdown = self.shutdown.clone();
        let producer = self.producer()?;
        let mut sent = 0;
        for record in batch.partitions.iter().flat_map(|p| p.iter()) {
            let outgoing = to_message(record);
            let mut message = BaseRecord::to(&topic);
            if let Some(key) = outgoing.key.as_deref() {
                message = message.key(key);
            }
            if let Some(payload) = outgoing.payload.as_deref() {
                message = message.payload(payload);
            }
            loop {
                match producer.send(message) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        if shutdown.as_ref().is_some_and(Shutdown::is_raised) {
                            producer.purge(PurgeConfig::default().queue().inflight());
                            anyhow::bail!(
                                "stopping: batch {} was not written, the producer's queue stayed full after {sent} of its messages (the brokers take none)",
                                batch.time_ms
                            );
                        }
                        message = back;
                        producer.poll(Duration::from_millis(10));
                    }
                    Err((e, _)) => anyhow::bail!("cannot queue a message for `{topic}`: {e}"),
                }
            }
            sent += 1;
        }
        Ok(sent)
    }

    /// Waits until every queued message is delivered or has failed, or the run stops;
    /// returns whether it had to wait for the brokers.
    fn flush(&mut self, time_ms: u64) -> anyhow::Result<bool> {
        let started = Instant::now();
        let (label, brokers) = (self.label.clone(), self.spec.brokers.join(","));
        let health = self.health.clone();
        let shutdown = self.shutdown.clone();
        let producer = self.producer()?;
        let mut reminded = None::<Instant>;
        while let Err(e) = producer.flush(FLUSH_STEP) {
            if !matches!(e, KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) {
                anyhow::bail!("cannot flush batch {time_ms}: {e}");
            }
            if shutdown.as_ref().is_some_and(Shutdown::is_raised) {
                let waiting = producer.in_flight_count();
                // What is still queued is not sent later behind the run's back.
                producer.purge(PurgeConfig::default().queue().inflight());
                let _ = producer.flush(FLUSH_STEP);
                anyhow::bail!(
                    "stopping: batch {time_ms} was not written, the Kafka brokers {brokers} had not taken {waiting} of its messages after {} s ({})",
                    started.elapsed().as_secs(),
                    health.last_error().unwrap_or_else(|| "no answer".into())
                );
            }
            if reminded.is_none_or(|at| at.elapsed() >= REMIND) {
                tracing::warn!(
                    "{label}: batch {time_ms} waits for the Kafka brokers {brokers} to take {} messages ({} s so far): {}; retrying until they do or message.timeout.ms passes",
                    producer.in_flight_count(),
                    started.elapsed().as_secs(),
                    health.last_error().unwrap_or_else(|| "no answer".into())
                );
                reminded = Some(Instant::now());
            }
        }
        Ok(reminded.is_some())
    }

    fn check_deliveries(&self, time_ms: u64, sent: u64) -> anyhow::Result<()> {
        let failed = self.deliveries.failed.swap(0, Ordering::SeqCst);
        let first = self
            .deliveries
            .first_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if failed > 0 {
            anyhow::bail!(
                "{failed} of the {sent} messages of batch {time_ms} could not be delivered to `{}`: {}",
                self.spec.topic,
                first.unwrap_or_default()
            );
        }
        Ok(())
    }

    fn write_transaction(
        &mut self,
        transaction: &TransactionSpec,
        batch: &SinkBatch<'_>,
    ) -> anyhow::Result<()> {
        if let Some(last) = self.last_committed(transaction)?
            && batch.time_ms <= last
        {
            tracing::info!(
                "{}: batch {} is already in `{}` (committed before a restart); not writing it again",
                self.label,
                batch.time_ms,
                self.spec.topic
            );
            return Ok(());
        }
        self.producer()?.begin_transaction()?;
        let shutdown = self.shutdown.clone();
        let outcome = self.send_all(batch).and_then(|sent| {
            let marker =
                commits::marker(&self.pipeline, &self.label, &self.spec.topic, batch.time_ms);
            let producer = self.producer()?;
            producer
                .send(
                    BaseRecord::to(&transaction.commits_topic)
                        .key(&transaction.id)
                        .payload(&marker),
                )
                .map_err(|(e, _)| anyhow::anyhow!("cannot queue the commit marker: {e}"))?;
            // Delivered first, in steps that obey a stop; the commit then only waits
            // for the brokers to acknowledge it.
            self.flush(batch.time_ms)?;
            let producer = self.producer()?;
            in_steps(shutdown.as_ref(), |step| producer.commit_transaction(step))?;
            self.check_deliveries(batch.time_ms, sent)
        });
        match outcome {
            Ok(()) => {
                self.committed = Some(Some(batch.time_ms));
                Ok(())
            }
            Err(e) => {
                self.deliveries.failed.store(0, Ordering::SeqCst);
                let producer = self.producer()?;
                if in_steps(shutdown.as_ref(), |step| producer.abort_transaction(step)).is_err() {
                    // A producer that can neither commit nor abort (fenced, or a fatal
                    // error) is replaced; the new one fences whatever this one left.
                    self.producer = None;
                    self.committed = None;
                }
                Err(e.context(format!("batch {}'s transaction was aborted", batch.time_ms)))
            }
        }
    }
}

/// Runs a transaction call (`init`, `commit`, `abort`) one [`FLUSH_STEP`] at a time
/// until it succeeds, fails otherwise than by timing out, [`TRANSACTION_TIMEOUT`]
/// passes, or the run stops. librdkafka allows a call that timed out to be called again.
fn in_steps(
    shutdown: Option<&Shutdown>,
    mut call: impl FnMut(Duration) -> KafkaResult<()>,
) -> KafkaResult<()> {
    let started = Instant::now();
    loop {
        match call(FLUSH_STEP) {
            Err(KafkaError::Transaction(e))
                if e.is_retriable()
                    && started.elapsed() < TRANSACTION_TIMEOUT
                    && !shutdown.is_some_and(Shutdown::is_raised) => {}
            outcome => return outcome,
        }
    }
}

impl Sink for KafkaSink {
    fn write(&mut self, batch: &SinkBatch<'_>) -> anyhow::Result<()> {
        if let Some(transaction) = self.spec.transaction.clone() {
            return self.write_transaction(&transaction, batch);
        }
        let sent = self.send_all(batch)?;
        let waited = self.flush(batch.time_ms)?;
        self.check_deliveries(batch.time_ms, sent)?;
        // Said only once every message is delivered: a flush also ends when they failed.
        if waited {
            tracing::info!(
                "{}: the Kafka brokers {} took batch {}",
                self.label,
                self.spec.brokers.join(","),
                batch.time_ms
            );
        }
        Ok(())
    }

    fn watch(&mut self, shutdown: &Shutdown) {
        self.shutdown = Some(shutdown.clone());
    }
}
