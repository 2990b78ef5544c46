//! A process's event log (`sluice --event-log FILE`): its structured events, one JSON
//! object per line, followed as the process appends them. Tests wait on these, not on
//! the sentences of its log.

use super::process::PATIENCE;
use serde_json::Value;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The events of one process, read so far.
pub struct EventLog {
    path: PathBuf,
    read: u64,
    partial: String,
    events: Vec<Value>,
}

impl EventLog {
    /// The event log at `path`, which the process creates.
    pub fn at(path: PathBuf) -> EventLog {
        let _ = std::fs::remove_file(&path);
        EventLog {
            path,
            read: 0,
            partial: String::new(),
            events: Vec::new(),
        }
    }

    /// Where the process writes it.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Reads what the process appended since the last read; only whole lines count.
    fn refresh(&mut self) {
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return;
        };
        if file.seek(SeekFrom::Start(self.read)).is_err() {
            return;
        }
        let mut more = String::new();
        let Ok(n) = file.read_to_string(&mut more) else {
            return;
        };
        self.read += n as u64;
        self.partial.push_str(&more);
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            let event = serde_json::from_str(line.trim_end())
                .unwrap_or_else(|e| panic!("an event log line is not JSON ({e}): {line}"));
            self.events.push(event);
        }
    }

    /// Every event read so far, after a last read.
    pub fn all(&mut self) -> &[Value] {
        self.refresh();
        &self.events
    }

    /// Waits for an event named `name`, at index `from` or later, that satisfies
    /// `want`; gives up when `exited` says the process is gone (after a last read) or
    /// patience runs out.
    pub fn wait(
        &mut self,
        from: usize,
        name: &str,
        want: &dyn Fn(&Value) -> bool,
        exited: &mut dyn FnMut() -> bool,
    ) -> Option<(usize, Value)> {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = from;
        loop {
            let gone = exited();
            self.refresh();
            if let Some(i) = (seen..self.events.len())
                .find(|&i| self.events[i]["event"] == name && want(&self.events[i]))
            {
                return Some((i, self.events[i].clone()));
            }
            seen = seen.max(self.events.len());
            if gone || Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
