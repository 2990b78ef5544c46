//! Checks across sections: names are unique, every input exists, stages form no cycle,
//! and there is something to read and something to write.

use super::Pipeline;
use crate::settings::Context;
use crate::settings::did_you_mean;
use std::collections::HashMap;
use toml_edit::Table;

pub fn check(pipeline: &Pipeline, cx: &Context<'_>, root: &Table) {
    let mut nodes: HashMap<&str, &str> = HashMap::new();
    for source in &pipeline.sources {
        nodes.insert(&source.name, "source");
    }
    let snapshots: Vec<String> = pipeline
        .stages
        .iter()
        .filter_map(|s| s.snapshots_node())
        .collect();
    for name in &snapshots {
        nodes.insert(name, "snapshots");
    }
    for stage in &pipeline.stages {
        if nodes.insert(&stage.name, "stage").is_some() {
            cx.error(
                stage.at,
                &format!("stages.{}", stage.name),
                format!("`{}` is both a source and a stage", stage.name),
                Some("inputs name sources and stages alike, so their names must differ".into()),
            );
        }
    }
    for kind in crate::source::KINDS {
        let Some(why) = kind.alone else { continue };
        let mut alike = pipeline.sources.iter().filter(|s| s.kind == kind.name);
        if let (Some(first), Some(second)) = (alike.next(), alike.next()) {
            cx.error(
                second.at,
                &format!("sources.{}", second.name),
                format!(
                    "a second {} source (`{}` is one already)",
                    kind.name, first.name
                ),
                Some(why.into()),
            );
        }
    }
    let known = || nodes.keys().copied();
    let missing = |name: &str| {
        let hint = did_you_mean(name, known()).unwrap_or_else(|| {
            let mut names: Vec<_> = known().collect();
            names.sort();
            format!("sources and stages are: {}", names.join(", "))
        });
        (format!("no source or stage named `{name}`"), Some(hint))
    };
    for stage in &pipeline.stages {
        for input in &stage.inputs {
            if !nodes.contains_key(input.as_str()) {
                let (message, hint) = missing(input);
                cx.error(
                    stage.input_at,
                    &format!("stages.{}.input", stage.name),
                    message,
                    hint,
                );
            }
        }
    }
    for sink in &pipeline.sinks {
        if !nodes.contains_key(sink.input.as_str()) {
            let (message, hint) = missing(&sink.input);
            cx.error(
                sink.input_at,
                &format!("sinks.{}.input", sink.name),
                message,
                hint,
            );
        }
    }
    if let Some(cycle) = find_cycle(pipeline) {
        let first = &pipeline.stages[cycle[0]];
        let names: Vec<&str> = cycle
            .iter()
            .chain(&cycle[..1])
            .map(|&i| pipeline.stages[i].name.as_str())
            .collect();
        cx.error(
            first.at,
            &format!("stages.{}", first.name),
            format!("stages form a cycle: {}", names.join(" -> ")),
            Some("a stream flows one way: break the cycle by changing one of these inputs".into()),
        );
    }
    let location = |section: &str| cx.lines.locate(root.key(section).and_then(|k| k.span()));
    if root.get("sources").is_none() {
        cx.error(
            location("sources"),
            "sources",
            "no sources: nothing to read",
            Some("add a [sources.NAME] section with a `type`".into()),
        );
    }
    if root.get("sinks").is_none() {
        cx.error(
            location("sinks"),
            "sinks",
            "no sinks: nothing would be written",
            Some("add a [sinks.NAME] section, like `type = \"print\"`".into()),
        );
    }
}

/// The stages of one cycle, in order, if the stage graph has any.
fn find_cycle(pipeline: &Pipeline) -> Option<Vec<usize>> {
    let index: HashMap<&str, usize> = pipeline
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::New; pipeline.stages.len()];
    for start in 0..pipeline.stages.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative depth-first search: (stage, next input to look at).
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        marks[start] = Mark::OnPath;
        while let Some(&mut (stage, ref mut next)) = path.last_mut() {
            let inputs = &pipeline.stages[stage].inputs;
            if *next == inputs.len() {
                marks[stage] = Mark::Done;
                path.pop();
                continue;
            }
            let input = &inputs[*next];
            *next += 1;
            let Some(&upstream) = index.get(input.as_str()) else {
                continue;
            };
            match marks[upstream] {
                Mark::OnPath => {
                    let from = path.iter().position(|&(s, _)| s == upstream).unwrap_or(0);
                    let mut cycle: Vec<usize> = path[from..].iter().map(|&(s, _)| s).collect();
                    cycle.reverse();
                    return Some(cycle);
                }
                Mark::New => {
                    marks[upstream] = Mark::OnPath;
                    path.push((upstream, 0));
                }
                Mark::Done => {}
            }
        }
    }
    None
}
