//! A real Kafka-protocol broker for the Kafka tests: tansu, started on a free loopback
//! port with in-memory storage, one per test, killed when dropped; and the clients a
//! test needs around it (create topics, produce, read a whole topic back) built on
//! rdkafka, independent of sluice's own Kafka code.
//!
//! tansu 0.6 answers ListOffsets(latest) with the offset after the first record of the
//! partition's last record batch, and serves a fetch from inside a record batch starting
//! at the next batch. A direct stream cuts at arbitrary offsets, so the tests produce
//! one record per batch (`batch.num.messages = 1`), which makes both exact. Real Kafka
//! (and Redpanda) need no such care.

use super::process::PATIENCE;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeSet;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// The tansu binary: on `PATH`, or where `cargo install` puts it.
pub fn tansu_bin() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("tansu"))
        .find(|p| p.is_file());
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin").join("tansu"));
    on_path
        .or(cargo_home.filter(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "the Kafka tests run against tansu, a Kafka-protocol broker, and it is not installed \
                 (looked on PATH and in ~/.cargo/bin): install it with \
                 `cargo install tansu --locked --features dynostore,postgres` (about 30 minutes), or run the tests with scripts/test, which installs it"
            )
        })
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A running tansu broker.
pub struct Broker {
    child: Child,
    port: u16,
}

impl Broker {
    /// A broker on a free port.
    pub fn start() -> Broker {
        Broker::start_on(free_port())
    }

    /// A broker on `port` (to bring one back where sluice expects it). Returns once
    /// tansu says it is ready.
    pub fn start_on(port: u16) -> Broker {
        let url = format!("tcp://127.0.0.1:{port}");
        let mut child = Command::new(tansu_bin())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let (ready, wait) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("ready in") {
                    let _ = ready.send(());
                }
            }
        });
        if wait.recv_timeout(PATIENCE).is_err() {
            let _ = child.kill();
            panic!("tansu did not say it was ready on port {port} (is the port taken?)");
        }
        Broker { child, port }
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the broker (SIGKILL): with in-memory storage, everything it held is gone.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", self.address());
        config
    }

    /// Creates `topic` with `partitions` partitions.
    pub fn create_topic(&self, topic: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = self.config().create().unwrap();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
        let results = block_on(admin.create_topics([&new], &options)).unwrap();
        for result in results {
            result.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
        }
    }

    /// Produces `records` (key, value) to `topic`, one record per batch (see the module
    /// docs), partitioned by key, and waits until every one is acknowledged.
    pub fn produce(&self, topic: &str, records: &[(String, String)]) {
        let producer: ThreadedProducer<DefaultProducerContext> = self
            .config()
            .set("enable.idempotence", "true")
            .set("batch.num.messages", "1")
            .set("linger.ms", "5")
            .set("partitioner", "murmur2_random")
            .set("queue.buffering.max.messages", "1000000")
            .create()
            .unwrap();
        for (key, value) in records {
            let mut record = BaseRecord::to(topic).key(key).payload(value);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, back)) => {
                        record = back;
                        producer.poll(Duration::from_millis(10));
                    }
                }
            }
        }
        producer
            .flush(PATIENCE)
            .expect("every record is acknowledged");
    }

    /// Every committed message of `topic` as (key, value), partition by partition.
    pub fn read_all(&self, topic: &str) -> Vec<(Option<String>, String)> {
        let consumer: BaseConsumer = self
            .config()
            .set("group.id", "sluice-tests")
            .set("enable.partition.eof", "true")
            .set("isolation.level", "read_committed")
            .create()
            .unwrap();
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(30))
            .unwrap();
        let partitions: Vec<i32> = metadata.topics()[0]
            .partitions()
            .iter()
            .map(|p| p.id())
            .collect();
        let mut tpl = TopicPartitionList::new();
        for &p in &partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&tpl).unwrap();
        // The end of each partition is where the broker says it is while fetching.
        let mut ended = BTreeSet::new();
        let mut out = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        while ended.len() < partitions.len() {
            assert!(
                Instant::now() < deadline,
                "reading {topic} back took too long"
            );
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => out.push((
                    m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                )),
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    ended.insert(p);
                }
                Some(Err(e)) => panic!("reading {topic} back: {e}"),
                None => {}
            }
        }
        out
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs an admin future to completion (librdkafka's threads complete it).
fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park_timeout(Duration::from_millis(100));
    }
}
