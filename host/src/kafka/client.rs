//! What the Kafka source and sink share: client settings, the librdkafka context that
//! routes its logs and errors into sluice's log, a record of whether the brokers can be
//! reached, and a small executor for the admin API's futures.

use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::time::Duration;

/// How long one metadata or offsets request may take before the brokers count as
/// unreachable.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Client settings for `brokers`, then the user's `properties` (which may override the
/// tuning below, but not what sluice relies on: the parser refuses those keys).
pub fn config(brokers: &[String], properties: &[(String, String)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers.join(","))
        // A broker that comes back is found within a second.
        .set("reconnect.backoff.max.ms", "1000")
        .set("log.connection.close", "false");
    for (key, value) in properties {
        config.set(key, value);
    }
    config
}

/// Whether the brokers answered the last request, and what went wrong if not.
#[derive(Default)]
pub struct Health {
    down: AtomicBool,
    last_error: Mutex<Option<String>>,
}

impl Health {
    /// Whether the last request failed.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    /// Marks the brokers unreachable; true if they were reachable until now.
    pub fn went_down(&self) -> bool {
        !self.down.swap(true, Ordering::SeqCst)
    }

    /// Marks the brokers reachable; true if they were unreachable until now.
    pub fn came_back(&self) -> bool {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.down.swap(false, Ordering::SeqCst)
    }

    /// The last error librdkafka reported, for messages.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn note(&self, error: String) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
    }
}

/// The librdkafka context of every client sluice makes: its log goes to sluice's log
/// at debug level (sluice says itself, once, what an outage means), its errors are
/// remembered for those messages.
#[derive(Clone)]
pub struct Context {
    /// What the client serves, like "source `events`".
    pub label: String,
    /// Shared with the source or sink.
    pub health: Arc<Health>,
}

impl Context {
    /// A context for the client of `label`.
    pub fn new(label: &str, health: Arc<Health>) -> Self {
        Context {
            label: label.to_string(),
            health,
        }
    }
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
                tracing::warn!("{}: librdkafka {facility}: {message}", self.label)
            }
            _ => tracing::debug!("{}: librdkafka {facility}: {message}", self.label),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!("{}: librdkafka error {error}: {reason}", self.label);
        self.health.note(reason.to_string());
    }
}

impl ConsumerContext for Context {}

/// Creates a client of kind `T` from `config`, saying which settings were wrong.
pub fn create<T>(config: &ClientConfig, context: Context) -> anyhow::Result<T>
where
    T: rdkafka::config::FromClientConfigAndContext<Context>,
{
    config.create_with_context(context).map_err(|e| {
        anyhow::anyhow!("cannot create the Kafka client: {e} (check the `properties`)")
    })
}

/// Whether `error` says a topic or partition does not exist (as opposed to a broker
/// that cannot be reached).
pub fn is_unknown_topic(error: &KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as Code;
    matches!(
        error.rdkafka_error_code(),
        Some(Code::UnknownTopicOrPartition | Code::UnknownTopic | Code::UnknownPartition)
    )
}

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on this thread. The admin API's futures are completed by
/// librdkafka's own threads, so nothing else needs to drive them.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = TaskContext::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}
