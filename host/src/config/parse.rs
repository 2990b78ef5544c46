//! From TOML text to a [`Pipeline`], section by section. Each section's reader records
//! problems and carries on, so that one run reports them all.

use super::{
    CheckpointSpec, FailurePolicy, Limits, MAX_PARTITIONS, PARTITIONS_BOUND, Pipeline, PluginPath,
    PluginSpec, SinkSpec, SourceSpec, default_partitions, failure, operate, stage, validate,
};
use crate::settings::Reading;
use crate::settings::{Context, TableReader, resolve};
use crate::settings::{Diagnostics, LineIndex, Location, did_you_mean};
use crate::{sink, source};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use toml_edit::{Document, Item, Table};

const SECTIONS: [&str; 5] = ["pipeline", "plugins", "sources", "stages", "sinks"];

pub fn parse(file: &Path, text: &str) -> Result<Pipeline, Diagnostics> {
    let (pipeline, diagnostics) = parse_partial(file, text);
    diagnostics.into_result(pipeline)
}

/// The pipeline as far as it could be read (sections with problems left out), and the
/// problems.
pub fn parse_partial(file: &Path, text: &str) -> (Pipeline, Diagnostics) {
    let cx = Context {
        lines: LineIndex::new(text),
        diagnostics: RefCell::new(Diagnostics::new(file)),
    };
    let doc = match Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let message = e.message().trim().to_string();
            cx.error(
                cx.lines.locate(e.span()),
                "",
                format!("invalid TOML: {message}"),
                None,
            );
            return (unreachable_pipeline(), cx.diagnostics.into_inner());
        }
    };
    let root = doc.as_table();
    for (key, item) in root.iter() {
        if !SECTIONS.contains(&key) {
            let at = root.key(key).and_then(|k| k.span()).or_else(|| item.span());
            cx.error(
                cx.lines.locate(at),
                key,
                "unknown section",
                did_you_mean(key, SECTIONS)
                    .or_else(|| Some(format!("sections are {}", SECTIONS.join(", ")))),
            );
        }
    }
    let base = file.parent().unwrap_or(Path::new("."));
    let mut pipeline = pipeline_section(&cx, root, file);
    pipeline.plugins = sections(&cx, root, "plugins")
        .into_iter()
        .filter_map(|r| plugin(r, base))
        .collect();
    pipeline.sources = sections(&cx, root, "sources")
        .into_iter()
        .filter_map(|r| {
            source(
                r,
                base,
                pipeline.checkpoint.is_some(),
                pipeline.backpressure,
                &pipeline.name,
            )
        })
        .collect();
    pipeline.stages = sections(&cx, root, "stages")
        .into_iter()
        .filter_map(|r| stage::stage(r, &pipeline.plugins, pipeline.batch_interval, base))
        .collect();
    pipeline.sinks = sections(&cx, root, "sinks")
        .into_iter()
        .filter_map(|r| sink(r, base, &pipeline.name))
        .collect();
    validate::check(&pipeline, &cx, root);
    (pipeline, cx.diagnostics.into_inner())
}

/// A placeholder for the `Ok` side of an error that is certain to be returned.
fn unreachable_pipeline() -> Pipeline {
    Pipeline {
        file: PathBuf::new(),
        name: String::new(),
        batch_interval: std::time::Duration::from_secs(1),
        partitions: 1,
        checkpoint: None,
        dead_letters: PathBuf::from("dead-letters"),
        plugins: Vec::new(),
        sources: Vec::new(),
        stages: Vec::new(),
        sinks: Vec::new(),
        http: None,
        retained_batches: operate::DEFAULT_RETAINED_BATCHES,
        backpressure: false,
        failure: FailurePolicy::default(),
    }
}

fn pipeline_section(cx: &Context<'_>, root: &Table, file: &Path) -> Pipeline {
    let stem = file.file_stem().map_or_else(
        || "pipeline".to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let mut pipeline = unreachable_pipeline();
    pipeline.file = file.to_path_buf();
    pipeline.name = stem;
    pipeline.partitions = default_partitions();
    let Some(table) = section_table(cx, root, "pipeline") else {
        return pipeline;
    };
    let r = TableReader::new(
        cx,
        table,
        "",
        "pipeline",
        key_location(cx, root, "pipeline"),
    );
    if let Some((name, _)) = r.string("name") {
        pipeline.name = name;
    }
    if let Some(interval) = r.duration("batch_interval") {
        pipeline.batch_interval = interval;
    }
    if let Some(n) = r.integer_in("partitions", 1, MAX_PARTITIONS, PARTITIONS_BOUND) {
        pipeline.partitions = n as usize;
    }
    let base = file.parent().unwrap_or(Path::new("."));
    let interval = r.integer("checkpoint_interval", 1).map(|n| n as u32);
    match r.string("checkpoint_dir") {
        Some((dir, at)) => {
            pipeline.checkpoint = Some(CheckpointSpec {
                dir: resolve(base, &dir),
                interval: interval.unwrap_or(10),
                at,
            })
        }
        None if interval.is_some() => r.error(
            "checkpoint_interval",
            "`checkpoint_interval` without `checkpoint_dir`",
            Some("add checkpoint_dir = \"checkpoints\" (a directory for checkpoints)".into()),
        ),
        None => {}
    }
    if let Some((dir, _)) = r.string("dead_letters") {
        pipeline.dead_letters = resolve(base, &dir);
    } else {
        pipeline.dead_letters = resolve(base, "dead-letters");
    }
    operate::pipeline_keys(&r, &mut pipeline);
    pipeline.failure = failure::failure_keys(&r);
    r.finish();
    pipeline
}

fn key_location(cx: &Context<'_>, table: &Table, key: &str) -> Location {
    let span = table
        .key(key)
        .and_then(|k| k.span())
        .or_else(|| table.get(key).and_then(Item::span));
    cx.lines.locate(span)
}

fn section_table<'d>(cx: &Context<'_>, root: &'d Table, name: &str) -> Option<&'d Table> {
    match root.get(name)? {
        Item::Table(table) => Some(table),
        _ => {
            cx.error(
                key_location(cx, root, name),
                name,
                "expected a table",
                Some(format!("write it as a `[{name}]` section")),
            );
            None
        }
    }
}

/// The `[kind.NAME]` tables of a section, as readers.
fn sections<'c, 'a>(cx: &'c Context<'a>, root: &'c Table, kind: &str) -> Vec<TableReader<'c, 'a>> {
    let Some(section) = section_table(cx, root, kind) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, item) in section.iter() {
        let at = key_location(cx, section, name);
        match item {
            Item::Table(table) => out.push(TableReader::new(cx, table, kind, name, at)),
            _ => cx.error(
                at,
                &format!("{kind}.{name}"),
                "expected a table",
                Some(format!("write it as a `[{kind}.{name}]` section")),
            ),
        }
    }
    out
}

fn plugin(r: TableReader<'_, '_>, base: &Path) -> Option<PluginSpec> {
    let name = r.name();
    let path = r.required_string(
        "path",
        "point `path` at a plugin crate directory or a .wasm file",
    );
    let mut limits = Limits::default();
    if let Some(memory) = r.bytes("memory_limit") {
        limits.memory = memory;
    }
    if let Some(deadline) = r.duration("deadline") {
        limits.deadline = deadline;
    }
    let at = r.at();
    let path = path.and_then(|(raw, _)| {
        let resolved = resolve(base, &raw);
        let hint = Some(format!(
            "paths are relative to the pipeline file's directory ({})",
            base.display()
        ));
        if raw.ends_with(".wasm") {
            if resolved.is_file() {
                Some(PluginPath::Wasm(resolved))
            } else {
                r.error(
                    "path",
                    format!("no such file: {}", resolved.display()),
                    hint,
                );
                None
            }
        } else if resolved.join("Cargo.toml").is_file() {
            Some(PluginPath::Crate(resolved))
        } else if resolved.is_dir() {
            r.error(
                "path",
                format!(
                    "{} is not a plugin crate: it has no Cargo.toml",
                    resolved.display()
                ),
                Some("point `path` at a plugin crate directory or a .wasm file".into()),
            );
            None
        } else {
            r.error(
                "path",
                format!("no such directory: {}", resolved.display()),
                hint,
            );
            None
        }
    });
    r.finish();
    Some(PluginSpec {
        name,
        path: path?,
        limits,
        at,
    })
}

fn source(
    r: TableReader<'_, '_>,
    base: &Path,
    checkpointed: bool,
    backpressure: bool,
    pipeline: &str,
) -> Option<SourceSpec> {
    let name = r.name();
    let at = r.at();
    // Without a known type the other keys cannot be judged.
    let kind = source::KINDS[named_kind(&r, "source", &source::KINDS.map(|k| k.name))?];
    let settings = (kind.read)(&r, &Reading { base, pipeline });
    // Receivers can write ahead; the other sources can be read again anyway.
    let wal = kind.receives && r.boolean("wal").unwrap_or(false);
    if wal && !checkpointed {
        r.error(
            "wal",
            "a write-ahead log needs a checkpoint directory to live in",
            Some("add checkpoint_dir = \"checkpoints\" to [pipeline]".into()),
        );
    }
    let rate = operate::source_rate(&r, backpressure);
    r.finish();
    Some(SourceSpec {
        name,
        kind: kind.name,
        settings: settings?,
        wal,
        rate,
        at,
    })
}

/// Reads `type`: the index in `names` of the kind it names, or `None` after saying
/// what is missing or unknown (`what` is "source" or "sink").
fn named_kind(r: &TableReader<'_, '_>, what: &str, names: &[&str]) -> Option<usize> {
    let hint = format!("one of: {}", names.join(", "));
    let (named, _) = r.required_string("type", &hint)?;
    let found = names.iter().position(|n| *n == named);
    if found.is_none() {
        r.error(
            "type",
            format!("unknown {what} type `{named}`"),
            did_you_mean(&named, names.iter().copied()).or(Some(hint)),
        );
    }
    found
}

fn sink(r: TableReader<'_, '_>, base: &Path, pipeline: &str) -> Option<SinkSpec> {
    let name = r.name();
    let at = r.at();
    let input = r.required_string("input", "name the source or stage this sink writes");
    let kind = sink::KINDS[named_kind(&r, "sink", &sink::KINDS.map(|k| k.name))?];
    let settings = (kind.read)(&r, &Reading { base, pipeline });
    r.finish();
    Some(SinkSpec {
        name,
        input_at: input.as_ref().map(|i| i.1)?,
        input: input?.0,
        kind: kind.name,
        settings: settings?,
        at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_against_the_file_and_fold_dots() {
        assert_eq!(
            resolve(Path::new("examples"), "../plugins/wc"),
            PathBuf::from("plugins/wc")
        );
        assert_eq!(
            resolve(Path::new("a/b"), "./c/../d"),
            PathBuf::from("a/b/d")
        );
        assert_eq!(resolve(Path::new(""), "../x"), PathBuf::from("../x"));
        assert_eq!(
            resolve(Path::new("/etc"), "/abs/p.wasm"),
            PathBuf::from("/abs/p.wasm")
        );
        assert_eq!(resolve(Path::new("dir"), ".."), PathBuf::from("."));
    }
}
