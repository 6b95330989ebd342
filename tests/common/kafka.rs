//! A real Kafka-protocol broker for tests: `tansu` with in-memory storage, as a child process
//! on a free loopback port, and a consumer that reads a topic from the start.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

/// The broker binary: `$AUDITLENS_TANSU`, else `tansu` next to cargo's binaries, else on PATH.
/// `.ci/run` installs it (`cargo install tansu --locked --features dynostore`).
fn tansu() -> PathBuf {
    if let Some(path) = std::env::var_os("AUDITLENS_TANSU") {
        return path.into();
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    if let Some(candidate) = home.map(|home| home.join("bin").join("tansu")) {
        if candidate.is_file() {
            return candidate;
        }
    }
    PathBuf::from("tansu")
}

/// A running broker. Its storage is in memory: a restart starts empty.
pub struct Broker {
    child: Option<Child>,
    pub addr: SocketAddr,
}

impl Broker {
    /// Starts a broker on a free port and waits until it accepts connections.
    pub fn start() -> Broker {
        let addr = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let mut broker = Broker { child: None, addr };
        broker.restart();
        broker
    }

    /// `HOST:PORT` for `--kafka-brokers`.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// Stops the broker (SIGKILL): clients see it go away.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port (empty: its storage is in memory).
    pub fn restart(&mut self) {
        self.stop();
        let url = format!("tcp://{}", self.addr);
        let child = Command::new(tansu())
            .args(["broker", "--storage-engine", "memory://tansu/"])
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start the tansu broker ({e}); install it with \
                     `cargo install tansu --locked --features dynostore` or set AUDITLENS_TANSU"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {}",
                self.addr
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Creates `topic` (the broker does not create topics on first use).
    pub fn create_topic(&self, topic: &str) {
        let output = Command::new(tansu())
            .args(["topic", "create", topic, "--broker"])
            .arg(format!("tcp://{}", self.addr))
            .output()
            .expect("run tansu topic create");
        assert!(
            output.status.success(),
            "tansu topic create {topic}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One message as read back.
#[derive(Debug, Clone)]
pub struct Received {
    pub key: Option<String>,
    pub value: serde_json::Value,
    pub headers: Vec<(String, String)>,
    pub partition: i32,
    pub offset: i64,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A consumer in group `group` reading `topic` from the earliest offset not committed.
pub struct Reader {
    consumer: BaseConsumer,
}

impl Reader {
    pub fn new(bootstrap: &str, group: &str, topic: &str) -> Reader {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .expect("create a consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        Reader { consumer }
    }

    /// Messages until `want` of them arrived or `timeout` passed; commits what it read.
    pub fn read(&self, want: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        let mut found = Vec::new();
        while found.len() < want && Instant::now() < deadline {
            let Some(message) = self.consumer.poll(Duration::from_millis(200)) else {
                continue;
            };
            let message = match message {
                Ok(message) => message,
                Err(_) => continue,
            };
            let value = message
                .payload()
                .and_then(|bytes| serde_json::from_slice(bytes).ok())
                .unwrap_or(serde_json::Value::Null);
            let headers = message
                .headers()
                .map(|headers| {
                    headers
                        .iter()
                        .map(|h| {
                            let value = h.value.map(String::from_utf8_lossy).unwrap_or_default();
                            (h.key.to_string(), value.into_owned())
                        })
                        .collect()
                })
                .unwrap_or_default();
            found.push(Received {
                key: message
                    .key()
                    .map(|key| String::from_utf8_lossy(key).into_owned()),
                value,
                headers,
                partition: message.partition(),
                offset: message.offset(),
            });
            let _ = self.consumer.commit_message(&message, CommitMode::Sync);
        }
        found
    }
}

/// Produces `messages` (key, value) to `topic` and waits until the broker acknowledged them.
pub fn produce(bootstrap: &str, topic: &str, messages: &[(&str, &str)]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .create()
        .expect("create a producer");
    for (key, value) in messages {
        producer
            .send(BaseRecord::to(topic).key(*key).payload(*value))
            .map_err(|(error, _)| error)
            .expect("queue a message");
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("the broker acknowledged the messages");
}
