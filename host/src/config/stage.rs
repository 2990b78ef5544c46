//! Reading one `[stages.NAME]` section: inputs, op, the functions it calls, and the
//! options that only some ops take (partitions, window, timeout, initial state, ...).

use super::{
    FunctionRef, MAX_PARTITIONS, OnError, Op, PARTITIONS_BOUND, PluginSpec, StageSpec, WindowSpec,
};
use crate::settings::{Location, did_you_mean};
use crate::settings::{TableReader, resolve};
use std::path::Path;
use std::time::Duration;

/// Options that apply to some ops only, with the test of whether they apply.
/// Whether an option applies to an op.
type Applies = fn(Op) -> bool;

const OPTIONS: [(&str, Applies); 7] = [
    ("partitions", Op::takes_partitions),
    ("window", Op::is_windowed),
    ("slide", Op::is_windowed),
    ("inverse_function", |op| op == Op::ReduceByKeyAndWindow),
    ("filter_function", |op| op == Op::ReduceByKeyAndWindow),
    ("timeout", |op| op == Op::MapWithState),
    ("state_snapshots", |op| op == Op::MapWithState),
];

pub fn stage(
    r: TableReader<'_, '_>,
    plugins: &[PluginSpec],
    batch_interval: Duration,
    base: &Path,
) -> Option<StageSpec> {
    let name = r.name();
    let at = r.at();
    let inputs = inputs(&r);
    let op = r
        .required_string("op", &format!("one of: {}", op_names()))
        .and_then(|(raw, _)| {
            Op::parse(&raw).or_else(|| {
                r.error(
                    "op",
                    format!("unknown op `{raw}`"),
                    did_you_mean(&raw, Op::ALL.map(Op::name))
                        .or_else(|| Some(format!("one of: {}", op_names()))),
                );
                None
            })
        });
    let Some(op) = op else {
        // Without an op the other keys cannot be judged; report only the unknown ones.
        for key in ["function", "initial_state"]
            .iter()
            .chain(OPTIONS.iter().map(|o| &o.0))
        {
            r.mark_read(key);
        }
        r.finish();
        return None;
    };
    for (key, applies) in OPTIONS {
        if !applies(op) && r.has(key) {
            r.mark_read(key);
            let which: Vec<&str> = Op::ALL
                .into_iter()
                .filter(|&o| applies(o))
                .map(Op::name)
                .collect();
            r.error(
                key,
                format!("op `{}` has no `{key}`", op.name()),
                Some(format!("`{key}` applies to {}", which.join(", "))),
            );
        }
    }
    let function = function(&r, op, plugins);
    let inverse = op_function(&r, op, "inverse_function", plugins);
    let filter = op_function(&r, op, "filter_function", plugins);
    let partitions = op
        .takes_partitions()
        .then(|| r.integer_in("partitions", 1, MAX_PARTITIONS, PARTITIONS_BOUND))
        .flatten()
        .map(|n| n as usize);
    let window = window(&r, op, batch_interval);
    let timeout = (op == Op::MapWithState)
        .then(|| r.duration("timeout"))
        .flatten();
    let state_snapshots = op == Op::MapWithState && r.boolean("state_snapshots").unwrap_or(false);
    let initial_state = initial_state(&r, op, base);
    let on_error = on_error(&r);
    if let Some((inputs, _)) = &inputs
        && op.is_join()
        && inputs.len() != 2
    {
        r.error(
            "inputs",
            format!(
                "op `{}` joins exactly two inputs, found {}",
                op.name(),
                inputs.len()
            ),
            Some("write inputs = [\"left\", \"right\"]".into()),
        );
    }
    r.finish();
    let function_ok = op.function_kind().is_none() || function.is_some();
    let window_ok = !op.is_windowed() || window.is_some();
    if !function_ok || !window_ok {
        return None;
    }
    let (inputs, input_at) = inputs?;
    Some(StageSpec {
        name,
        inputs,
        input_at,
        op,
        function,
        partitions,
        window,
        inverse,
        filter,
        timeout,
        initial_state,
        state_snapshots,
        on_error,
        at,
    })
}

fn on_error(r: &TableReader<'_, '_>) -> OnError {
    let Some((raw, _)) = r.string("on_error") else {
        return OnError::default();
    };
    match raw.as_str() {
        "dead_letter" => OnError::DeadLetter,
        "skip" => OnError::Skip,
        "stop" => OnError::Stop,
        other => {
            r.error(
                "on_error",
                format!("unknown policy `{other}`"),
                did_you_mean(other, ["dead_letter", "skip", "stop"])
                    .or_else(|| Some("one of: dead_letter (the default), skip, stop".into())),
            );
            OnError::default()
        }
    }
}

fn inputs(r: &TableReader<'_, '_>) -> Option<(Vec<String>, Location)> {
    match (r.strings("input"), r.strings("inputs")) {
        (Some(one), None) => Some(one),
        (None, Some(many)) if !many.0.is_empty() => Some(many),
        (Some(_), Some(_)) => {
            r.error(
                "inputs",
                "both `input` and `inputs` are given",
                Some("use one of them".into()),
            );
            None
        }
        _ => {
            r.error(
                "input",
                "missing key `input`",
                Some("name the source or stage this stage reads, or several as `inputs = [\"a\", \"b\"]`".into()),
            );
            None
        }
    }
}

fn op_names() -> String {
    Op::ALL.map(Op::name).join(", ")
}

fn function(r: &TableReader<'_, '_>, op: Op, plugins: &[PluginSpec]) -> Option<FunctionRef> {
    let given = r.string("function");
    match (op.function_kind(), given) {
        (Some(_), Some((raw, at))) => function_ref(r, "function", &raw, at, plugins),
        (Some(kind), None) => {
            r.error(
                "function",
                format!("op `{}` needs a `function`", op.name()),
                Some(format!(
                    "like function = \"myplugin::my_{kind}\", a #[{kind}] function"
                )),
            );
            None
        }
        (None, Some(_)) => {
            r.error(
                "function",
                format!("op `{}` calls no plugin function", op.name()),
                Some("remove `function`".into()),
            );
            None
        }
        (None, None) => None,
    }
}

/// `inverse_function` or `filter_function`, where the op takes it.
fn op_function(
    r: &TableReader<'_, '_>,
    op: Op,
    key: &'static str,
    plugins: &[PluginSpec],
) -> Option<FunctionRef> {
    if op != Op::ReduceByKeyAndWindow {
        return None;
    }
    let (raw, at) = r.string(key)?;
    function_ref(r, key, &raw, at, plugins)
}

fn function_ref(
    r: &TableReader<'_, '_>,
    key: &str,
    raw: &str,
    at: Location,
    plugins: &[PluginSpec],
) -> Option<FunctionRef> {
    let Some((plugin, function)) = raw
        .split_once("::")
        .filter(|(p, f)| !p.is_empty() && !f.is_empty())
    else {
        r.error(
            key,
            format!("`{raw}` is not plugin::function"),
            Some("like \"wordcount::split_words\"".into()),
        );
        return None;
    };
    if !plugins.iter().any(|p| p.name == plugin) {
        let hint = did_you_mean(plugin, plugins.iter().map(|p| p.name.as_str()))
            .unwrap_or_else(|| format!("declare it in a [plugins.{plugin}] section with a `path`"));
        r.error(key, format!("unknown plugin `{plugin}`"), Some(hint));
        return None;
    }
    Some(FunctionRef {
        plugin: plugin.to_string(),
        function: function.to_string(),
        at,
    })
}

fn window(r: &TableReader<'_, '_>, op: Op, batch_interval: Duration) -> Option<WindowSpec> {
    if !op.is_windowed() {
        return None;
    }
    let interval = batch_interval.as_millis();
    let multiple = |key: &str, d: Duration| {
        let ok = d.as_millis().is_multiple_of(interval);
        if !ok {
            r.error(
                key,
                format!(
                    "{} ms is not a multiple of the batch interval ({interval} ms)",
                    d.as_millis()
                ),
                Some("windows are made of whole batches".into()),
            );
        }
        ok
    };
    let length = match r.duration("window") {
        Some(length) => length,
        None => {
            if !r.has("window") {
                r.error(
                    "window",
                    format!("op `{}` needs a `window`", op.name()),
                    Some("like window = \"30s\"".into()),
                );
            }
            return None;
        }
    };
    let slide = r.duration("slide").unwrap_or(batch_interval);
    (multiple("window", length) & multiple("slide", slide)).then_some(WindowSpec { length, slide })
}

fn initial_state(r: &TableReader<'_, '_>, op: Op, base: &Path) -> Option<std::path::PathBuf> {
    if !op.is_keyed_state() {
        if r.has("initial_state") {
            r.mark_read("initial_state");
            r.error(
                "initial_state",
                format!("op `{}` keeps no state", op.name()),
                Some("`initial_state` applies to update_state_by_key and map_with_state".into()),
            );
        }
        return None;
    }
    let (raw, _) = r.string("initial_state")?;
    let path = resolve(base, &raw);
    if path.is_file() {
        Some(path)
    } else {
        r.error(
            "initial_state",
            format!("no such file: {}", path.display()),
            Some("a JSON-lines file of [key, state] arrays; paths are relative to the pipeline file's directory".into()),
        );
        None
    }
}
