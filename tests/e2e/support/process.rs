//! A running `sluice` process whose output lines can be waited for.

use super::events::EventLog;
use super::sluice_bin;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a test waits for anything before it gives up. Generous: the machine may be
/// loaded, and a wait ends as soon as the awaited line appears.
pub const PATIENCE: Duration = Duration::from_secs(240);

/// Lines a process printed on one stream, shared with the thread that reads them.
#[derive(Default)]
struct Lines {
    state: Mutex<(Vec<String>, bool)>,
    changed: Condvar,
}

impl Lines {
    fn follow(stream: impl Read + Send + 'static) -> Arc<Lines> {
        let lines = Arc::new(Lines::default());
        let filling = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                let mut state = filling.state.lock().unwrap();
                state.0.push(line);
                filling.changed.notify_all();
            }
            filling.state.lock().unwrap().1 = true;
            filling.changed.notify_all();
        });
        lines
    }

    fn text(&self) -> String {
        self.state.lock().unwrap().0.join("\n")
    }

    /// Waits for a line, after the first `from` lines, that satisfies `want`; returns
    /// its index and text, or `None` if the stream ended or time ran out.
    fn wait(&self, from: usize, want: &dyn Fn(&str) -> bool) -> Option<(usize, String)> {
        let deadline = Instant::now() + PATIENCE;
        let mut state = self.state.lock().unwrap();
        let mut seen = from;
        loop {
            if let Some(i) = (seen..state.0.len()).find(|&i| want(&state.0[i])) {
                return Some((i, state.0[i].clone()));
            }
            seen = state.0.len();
            let now = Instant::now();
            if state.1 || now >= deadline {
                return None;
            }
            state = self.changed.wait_timeout(state, deadline - now).unwrap().0;
        }
    }
}

/// What a finished process left.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// All it printed on stdout.
    pub stdout: String,
    /// All it printed on stderr.
    pub stderr: String,
}

/// A `sluice` process.
pub struct Sluice {
    child: Child,
    stdout: Arc<Lines>,
    stderr: Arc<Lines>,
    events: EventLog,
    /// Where the next wait for a batch starts looking, in the events.
    batch_cursor: usize,
}

impl Sluice {
    /// Starts `sluice ARGS` with no standard input.
    pub fn start(args: &[&str]) -> Sluice {
        Self::spawn(args, Stdio::null()).0
    }

    /// Starts `sluice ARGS` with a pipe to its standard input.
    pub fn start_with_stdin(args: &[&str]) -> (Sluice, ChildStdin) {
        let (sluice, stdin) = Self::spawn(args, Stdio::piped());
        (sluice, stdin.unwrap())
    }

    /// Starts `sluice ARGS` with a pipe to its standard input and extra environment.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> (Sluice, ChildStdin) {
        let (sluice, stdin) = Self::spawn_with(args, Stdio::piped(), env);
        (sluice, stdin.unwrap())
    }

    fn spawn(args: &[&str], stdin: Stdio) -> (Sluice, Option<ChildStdin>) {
        Self::spawn_with(args, stdin, &[])
    }

    fn spawn_with(
        args: &[&str],
        stdin: Stdio,
        env: &[(&str, &str)],
    ) -> (Sluice, Option<ChildStdin>) {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let events = EventLog::at(std::env::temp_dir().join(format!(
            "sluice-e2e-events-{}-{n}.jsonl",
            std::process::id()
        )));
        let mut child = Command::new(sluice_bin())
            .arg("--event-log")
            .arg(events.path())
            .args(args)
            .env("SLUICE_HOME", super::sluice_home())
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the sluice binary starts");
        let stdout = Lines::follow(child.stdout.take().unwrap());
        let stderr = Lines::follow(child.stderr.take().unwrap());
        let stdin = child.stdin.take();
        (
            Sluice {
                child,
                stdout,
                stderr,
                events,
                batch_cursor: 0,
            },
            stdin,
        )
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until some log line (stderr) contains `text`, and returns it.
    pub fn wait_for_log(&mut self, text: &str) -> String {
        self.wait_for_log_from(0, &|line| line.contains(text), text)
            .1
    }

    /// Waits until the process has logged at least `count` lines (or exited).
    pub fn wait_for_log_count(&mut self, count: usize) {
        let _ = self.stderr.wait(count.saturating_sub(1), &|_| true);
    }

    /// The `host:port` the process serves HTTP on.
    pub fn http_address(&mut self) -> String {
        let event = self.wait_for_event("http_serving");
        event["address"].as_str().unwrap().to_string()
    }

    /// Waits for the first event named `name` and returns it.
    pub fn wait_for_event(&mut self, name: &str) -> Value {
        self.wait_for_event_where(name, &|_| true)
    }

    /// Waits for the first event named `name` that satisfies `want` and returns it.
    pub fn wait_for_event_where(&mut self, name: &str, want: &dyn Fn(&Value) -> bool) -> Value {
        self.wait_for_event_from(0, name, want).1
    }

    /// Waits until `count` events named `name` satisfy `want`.
    pub fn wait_for_events(&mut self, name: &str, want: &dyn Fn(&Value) -> bool, count: usize) {
        let mut from = 0;
        for _ in 0..count {
            from = self.wait_for_event_from(from, name, want).0 + 1;
        }
    }

    fn wait_for_event_from(
        &mut self,
        from: usize,
        name: &str,
        want: &dyn Fn(&Value) -> bool,
    ) -> (usize, Value) {
        let child = &mut self.child;
        let mut exited = || child.try_wait().ok().flatten().is_some();
        match self.events.wait(from, name, want, &mut exited) {
            Some(found) => found,
            None => {
                let _ = self.child.kill();
                panic!(
                    "sluice never had the event {name:?}\n--- events ---\n{}\n--- stderr ---\n{}\n--- stdout ---\n{}",
                    self.events
                        .all()
                        .iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join("\n"),
                    self.stderr.text(),
                    self.stdout.text()
                );
            }
        }
    }

    /// Everything printed on stdout so far.
    pub fn stdout_so_far(&self) -> String {
        self.stdout.text()
    }

    /// Waits for the next completed batch, after the last one waited for, that
    /// satisfies `want`; returns its event.
    pub fn wait_for_batch(&mut self, want: &dyn Fn(&Value) -> bool) -> Value {
        let (i, event) = self.wait_for_event_from(self.batch_cursor, "batch_completed", want);
        self.batch_cursor = i + 1;
        event
    }

    /// Everything logged so far.
    pub fn log_so_far(&self) -> String {
        self.stderr.text()
    }

    fn wait_for_log_from(
        &mut self,
        from: usize,
        want: &dyn Fn(&str) -> bool,
        what: &str,
    ) -> (usize, String) {
        match self.stderr.wait(from, want) {
            Some(found) => found,
            None => {
                let _ = self.child.kill();
                panic!(
                    "sluice never logged {what:?}\n--- stderr ---\n{}\n--- stdout ---\n{}",
                    self.stderr.text(),
                    self.stdout.text()
                );
            }
        }
    }

    /// Sends a signal (`TERM`, `INT`, `KILL`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit and returns what it printed.
    pub fn finish(mut self) -> Finished {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "sluice did not exit\n--- stderr ---\n{}\n--- stdout ---\n{}",
                    self.stderr.text(),
                    self.stdout.text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The readers end when the pipes close.
        let _ = self.stdout.wait(usize::MAX, &|_| false);
        let _ = self.stderr.wait(usize::MAX, &|_| false);
        Finished {
            status,
            stdout: self.stdout.text(),
            stderr: self.stderr.text(),
        }
    }
}

impl Drop for Sluice {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Finished {
    /// Panics with everything printed unless the process exited with `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(code),
            "unexpected exit status\n--- stderr ---\n{}\n--- stdout ---\n{}",
            self.stderr,
            self.stdout
        );
        self
    }

    /// The print sink's batches: (batch time, records as printed).
    pub fn printed_batches(&self) -> Vec<(u64, Vec<String>)> {
        let mut batches = Vec::new();
        let mut lines = self.stdout.lines().peekable();
        while let Some(line) = lines.next() {
            if let Some(time) = line
                .strip_prefix("Time: ")
                .and_then(|t| t.split(" ms").next())
            {
                lines.next(); // dashes
                let mut records = Vec::new();
                while let Some(record) = lines.next_if(|l| !l.is_empty() && !l.starts_with("-----"))
                {
                    records.push(record.to_string());
                }
                batches.push((time.parse().unwrap(), records));
            }
        }
        batches
    }
}

/// The number of input records in a "batch T: N records in" log line, if it is one.
pub fn records_in(line: &str) -> Option<u64> {
    let rest = &line[line.find("batch ")? + 6..];
    let (_, rest) = rest.split_once(": ")?;
    rest.split_once(" records in")?.0.parse().ok()
}

impl Sluice {
    /// Waits for the next successful batch (after the last one waited for) that read
    /// at least one record; returns how many it read.
    pub fn wait_for_nonempty_batch(&mut self) -> u64 {
        let event = self.wait_for_batch(&|e| e["records_in"].as_u64().is_some_and(|n| n > 0));
        event["records_in"].as_u64().unwrap()
    }

    /// Waits until successful batches have read `total` records in all.
    pub fn wait_for_records(&mut self, total: u64) {
        let mut seen = 0;
        while seen < total {
            seen += self.wait_for_nonempty_batch();
        }
        assert_eq!(seen, total, "more records were read than were sent");
    }
}
