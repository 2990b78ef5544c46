//! Edits of the pipeline file while `sluice dev` runs. A saved file is read again; if it
//! loads, every key whose value changed is either applied at the next batch boundary
//! (the keys in [`live_edit`]: a print sink's `num` and `skip_empty`, a source's
//! `max_rate`, a plugin's `memory_limit` and `deadline`) or reported
//! as needing a restart, by name; a file that does not load is reported with its
//! diagnostics. Either way the running pipeline goes on as it was for everything not
//! applied.

use crate::config::{self, Limits, Pipeline};
use crate::sink::{Print, SinkSettings};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use notify::{EventKind, RecursiveMode, Watcher};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use toml_edit::{Document, Item, Value};

/// One change the engine applies between two batches.
#[derive(Clone, Debug)]
pub enum Edit {
    /// New settings for a running sink of the same kind.
    Sink {
        /// The sink.
        name: String,
        /// Its new settings.
        settings: Arc<dyn SinkSettings>,
        /// The key that changed, for the log.
        key: String,
    },
    /// New `memory_limit` and `deadline` for a plugin.
    PluginLimits {
        /// The plugin.
        plugin: String,
        /// Its new limits.
        limits: Limits,
        /// The key that changed, for the log.
        key: String,
    },
    /// A new `max_rate` for a source.
    MaxRate {
        /// The source.
        source: String,
        /// Records per second, or no limit.
        max_rate: Option<u64>,
        /// The key that changed, for the log.
        key: String,
    },
}

impl Edit {
    /// The pipeline-file key this edit applies.
    pub fn key(&self) -> &str {
        match self {
            Edit::Sink { key, .. } | Edit::MaxRate { key, .. } | Edit::PluginLimits { key, .. } => {
                key
            }
        }
    }
}

/// Watches the pipeline file and hands over the edits that can be applied live.
pub struct PipelineEdits {
    ready: Receiver<Vec<Edit>>,
    _watcher: notify::RecommendedWatcher,
}

/// How long a burst of file events (an editor's write, rename and chmod) is waited out.
const SETTLE: Duration = Duration::from_millis(100);

impl PipelineEdits {
    /// Starts watching `pipeline.file`.
    pub fn start(pipeline: &Pipeline) -> anyhow::Result<Self> {
        let file = std::fs::canonicalize(&pipeline.file)?;
        let dir = file.parent().unwrap_or(Path::new("/")).to_path_buf();
        let text = std::fs::read_to_string(&file)?;
        let (changed_tx, changed) = crossbeam_channel::unbounded();
        let watched = file.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_))
                    && event.paths.iter().any(|p| p == &watched)
                {
                    let _ = changed_tx.send(());
                }
            })?;
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        let (ready_tx, ready) = crossbeam_channel::unbounded();
        let reader = Reader {
            file,
            running: pipeline.clone(),
            baseline: flatten(&text),
            changed,
            ready: ready_tx,
        };
        std::thread::Builder::new()
            .name("pipeline-edits".into())
            .spawn(move || reader.run())?;
        Ok(PipelineEdits {
            ready,
            _watcher: watcher,
        })
    }

    /// The edits read since the last call, oldest first.
    pub fn ready(&self) -> Vec<Edit> {
        self.ready.try_iter().flatten().collect()
    }
}

struct Reader {
    file: PathBuf,
    /// The pipeline as it runs, with the live edits applied.
    running: Pipeline,
    /// Its keys and values as the file said when they were last taken.
    baseline: BTreeMap<String, String>,
    changed: Receiver<()>,
    ready: Sender<Vec<Edit>>,
}

impl Reader {
    fn run(mut self) {
        while self.changed.recv().is_ok() {
            loop {
                match self.changed.recv_timeout(SETTLE) {
                    Ok(()) => {}
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            if let Some(edits) = self.read()
                && !edits.is_empty()
                && self.ready.send(edits).is_err()
            {
                return;
            }
        }
    }

    /// Reads the file again; the edits to apply, after logging what cannot be.
    fn read(&mut self) -> Option<Vec<Edit>> {
        let shown = self.file.display();
        let text = match std::fs::read_to_string(&self.file) {
            Ok(text) => text,
            // Caught between an editor's write and rename: the rename brings another event.
            Err(e) => {
                tracing::debug!("{shown}: {e}");
                return None;
            }
        };
        let edited = match config::parse_str(&self.file, &text) {
            Ok(pipeline) => pipeline,
            Err(diagnostics) => {
                tracing::error!(
                    event = "pipeline_edit_refused",
                    "{shown} was edited but does not load, so nothing of it is applied and the pipeline runs on as it was:\n{diagnostics}"
                );
                return None;
            }
        };
        let now = flatten(&text);
        let mut keys: Vec<&String> = now
            .iter()
            .filter(|(k, v)| self.baseline.get(*k) != Some(v))
            .map(|(k, _)| k)
            .collect();
        keys.extend(self.baseline.keys().filter(|k| !now.contains_key(*k)));
        keys.sort();
        let mut edits = Vec::new();
        let mut restart = Vec::new();
        for key in keys {
            match live_edit(&self.running, &edited, key) {
                Some(edit) => edits.push(edit),
                None => restart.push(key.clone()),
            }
        }
        for edit in &edits {
            let key = edit.key().to_string();
            match now.get(&key) {
                Some(value) => self.baseline.insert(key, value.clone()),
                None => self.baseline.remove(&key),
            };
            apply_to(&mut self.running, edit);
        }
        if !restart.is_empty() {
            tracing::warn!(
                event = "pipeline_edit_needs_restart",
                keys = %restart.join(","),
                "{shown}: {} changed; {} only on a restart of sluice, so the pipeline runs on as it was for {}",
                restart
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if restart.len() == 1 { "it takes effect" } else { "they take effect" },
                if restart.len() == 1 { "it" } else { "them" },
            );
        }
        Some(edits)
    }
}

/// The live edit that `key` (changed between `running` and `edited`) is, if it is one.
fn live_edit(running: &Pipeline, edited: &Pipeline, key: &str) -> Option<Edit> {
    let parts: Vec<&str> = key.split('.').collect();
    match parts.as_slice() {
        ["plugins", name, "memory_limit" | "deadline"] => {
            running.plugins.iter().find(|p| p.name == *name)?;
            let after = edited.plugins.iter().find(|p| p.name == *name)?;
            Some(Edit::PluginLimits {
                plugin: name.to_string(),
                limits: after.limits,
                key: key.to_string(),
            })
        }
        ["sinks", name, "num" | "skip_empty"] => {
            let before = running.sinks.iter().find(|s| s.name == *name)?;
            let after = edited.sinks.iter().find(|s| s.name == *name)?;
            (before.settings_as::<Print>().is_some() && after.settings_as::<Print>().is_some())
                .then(|| Edit::Sink {
                    name: name.to_string(),
                    settings: after.settings.clone(),
                    key: key.to_string(),
                })
        }
        ["sources", name, "max_rate"] => {
            running.sources.iter().find(|s| s.name == *name)?;
            let after = edited.sources.iter().find(|s| s.name == *name)?;
            Some(Edit::MaxRate {
                source: name.to_string(),
                max_rate: after.rate.max_rate,
                key: key.to_string(),
            })
        }
        _ => None,
    }
}

fn apply_to(pipeline: &mut Pipeline, edit: &Edit) {
    match edit {
        Edit::Sink { name, settings, .. } => {
            if let Some(sink) = pipeline.sinks.iter_mut().find(|s| s.name == *name) {
                sink.settings = settings.clone();
            }
        }
        Edit::MaxRate {
            source, max_rate, ..
        } => {
            if let Some(spec) = pipeline.sources.iter_mut().find(|s| s.name == *source) {
                spec.rate.max_rate = *max_rate;
            }
        }
        Edit::PluginLimits { plugin, limits, .. } => {
            if let Some(spec) = pipeline.plugins.iter_mut().find(|p| p.name == *plugin) {
                spec.limits = *limits;
            }
        }
    }
}

/// Every value of a TOML document by its dotted key (`sinks.out.num`), as text without
/// comments or layout, so that only changed values differ.
fn flatten(text: &str) -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    if let Ok(doc) = Document::parse(text) {
        flatten_item(doc.as_item(), String::new(), &mut keys);
    }
    keys
}

fn flatten_item(item: &Item, prefix: String, keys: &mut BTreeMap<String, String>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match item {
        Item::Table(table) => {
            for (key, item) in table.iter() {
                flatten_item(item, join(key), keys);
            }
        }
        Item::ArrayOfTables(array) => {
            for (i, table) in array.iter().enumerate() {
                for (key, item) in table.iter() {
                    flatten_item(item, join(&format!("{i}.{key}")), keys);
                }
            }
        }
        Item::Value(Value::InlineTable(table)) => {
            for (key, value) in table.iter() {
                flatten_item(&Item::Value(value.clone()), join(key), keys);
            }
        }
        Item::Value(value) => {
            keys.insert(prefix, canonical(value));
        }
        Item::None => {}
    }
}

fn canonical(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{:?}", s.value()),
        Value::Integer(i) => i.value().to_string(),
        Value::Float(f) => f.value().to_string(),
        Value::Boolean(b) => b.value().to_string(),
        Value::Datetime(d) => d.value().to_string(),
        Value::Array(array) => {
            let items: Vec<String> = array.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        Value::InlineTable(table) => {
            let items: Vec<String> = table
                .iter()
                .map(|(k, v)| format!("{k}={}", canonical(v)))
                .collect();
            format!("{{{}}}", items.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "[pipeline]\nname = \"p\"\n\n[sources.lines]\ntype = \"stdin\"\n\n[sinks.out]\ninput = \"lines\"\ntype = \"print\"\nnum = 10\n";

    fn pipeline(text: &str) -> Pipeline {
        config::parse_str(Path::new("p.toml"), text).unwrap()
    }

    #[test]
    fn only_changed_values_differ_not_comments_or_layout() {
        let edited = BEFORE.replace("num = 10", "num   =   10   # the head");
        assert_eq!(flatten(BEFORE), flatten(&edited));
        let edited = BEFORE.replace("num = 10", "num = 3");
        let (a, b) = (flatten(BEFORE), flatten(&edited));
        let changed: Vec<&String> = b.keys().filter(|k| a.get(*k) != b.get(*k)).collect();
        assert_eq!(changed, ["sinks.out.num"]);
    }

    #[test]
    fn a_print_sinks_num_and_a_sources_max_rate_apply_live_and_nothing_else() {
        let running = pipeline(BEFORE);
        let edited = pipeline(
            &BEFORE
                .replace("num = 10", "num = 3")
                .replace("type = \"stdin\"", "type = \"stdin\"\nmax_rate = 50"),
        );
        let Some(Edit::Sink { name, settings, .. }) = live_edit(&running, &edited, "sinks.out.num")
        else {
            panic!("num is live");
        };
        assert_eq!(name, "out");
        let any: &dyn std::any::Any = &*settings;
        assert_eq!(
            any.downcast_ref::<Print>(),
            Some(&Print {
                num: 3,
                skip_empty: false
            })
        );
        assert!(matches!(
            live_edit(&running, &edited, "sources.lines.max_rate"),
            Some(Edit::MaxRate {
                max_rate: Some(50),
                ..
            })
        ));
        assert!(live_edit(&running, &edited, "pipeline.name").is_none());
        assert!(live_edit(&running, &edited, "sources.lines.type").is_none());
    }
}
