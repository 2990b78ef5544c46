//! What each node of a pipeline gives, as far as sources and the functions' declared
//! signatures tell, so that a keyed op fed something that cannot be `[key, value]` pairs
//! is refused before data flows instead of failing every batch.
//!
//! Only certainties are acted on: a line source gives strings, a function declared to
//! return `(A, B)` gives pairs, one declared to return `u64` does not. A named type
//! (a struct, which may serialize as a pair) or a Kafka source is unknown and passes.

use super::Registry;
use crate::config::{Op, Pipeline, StageSpec};
use std::collections::HashMap;

/// What a node's records are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `[key, value]` pairs.
    Pairs,
    /// Something that is not a pair, described for people (`lines of text`, `u64`).
    Not(String),
    /// Not known before data flows.
    Unknown,
}

/// A stage whose input cannot be what its op needs: the stage, its input and why.
#[derive(Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The stage's index in the pipeline.
    pub stage: usize,
    /// The input node.
    pub input: String,
    /// What the input gives instead of pairs.
    pub gives: String,
}

/// Whether `op` needs `[key, value]` pairs in.
pub fn needs_pairs(op: Op) -> bool {
    matches!(
        op,
        Op::ReduceByKey
            | Op::GroupByKey
            | Op::UpdateStateByKey
            | Op::MapWithState
            | Op::ReduceByKeyAndWindow
            | Op::Join
            | Op::LeftOuterJoin
            | Op::RightOuterJoin
            | Op::FullOuterJoin
            | Op::Cogroup
    )
}

/// Every keyed stage of `pipeline` whose input is certainly not pairs.
pub fn mismatches(pipeline: &Pipeline, registry: &Registry) -> Vec<Mismatch> {
    let mut shapes: HashMap<String, Shape> = HashMap::new();
    for source in &pipeline.sources {
        let shape = if source.settings.lines() {
            Shape::Not("lines of text".into())
        } else {
            Shape::Unknown
        };
        shapes.insert(source.name.clone(), shape);
    }
    // Stages in an order where inputs come first (the file was checked for cycles).
    let mut pending: Vec<usize> = (0..pipeline.stages.len()).collect();
    let mut found = Vec::new();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|&i| {
            let stage = &pipeline.stages[i];
            let Some(inputs) = stage
                .inputs
                .iter()
                .map(|n| shapes.get(n.as_str()).cloned())
                .collect::<Option<Vec<Shape>>>()
            else {
                return true;
            };
            if needs_pairs(stage.op) {
                for (name, shape) in stage.inputs.iter().zip(&inputs) {
                    if let Shape::Not(gives) = shape {
                        found.push(Mismatch {
                            stage: i,
                            input: name.clone(),
                            gives: gives.clone(),
                        });
                    }
                }
            }
            shapes.insert(stage.name.clone(), output(stage, &inputs, registry));
            if let Some(node) = stage.snapshots_node() {
                shapes.insert(node, Shape::Pairs);
            }
            false
        });
        if pending.len() == before {
            break;
        }
    }
    found
}

/// What a stage gives, from its op and its function's declared return type.
fn output(stage: &StageSpec, inputs: &[Shape], registry: &Registry) -> Shape {
    let declared = || {
        stage
            .function
            .as_ref()
            .and_then(|f| registry.get(&f.plugin)?.entry(&f.function).cloned())
            .map(|e| e.signature)
    };
    let same_as_input = || match inputs {
        [one] => one.clone(),
        many if !many.is_empty() && many.iter().all(|s| *s == many[0]) => many[0].clone(),
        _ => Shape::Unknown,
    };
    match stage.op {
        Op::Map | Op::MapWithState => declared().map_or(Shape::Unknown, |s| of_return(&s, false)),
        Op::FlatMap | Op::MapPartition | Op::Transform => {
            declared().map_or(Shape::Unknown, |s| of_return(&s, true))
        }
        Op::Filter | Op::Union | Op::Repartition | Op::Window => same_as_input(),
        Op::Count | Op::CountByWindow => Shape::Not("counts (numbers)".into()),
        Op::Reduce | Op::ReduceByWindow => Shape::Unknown,
        _ => Shape::Pairs,
    }
}

/// The shape of what a signature returns; with `items`, of the items of the iterator,
/// collection or option it returns.
pub fn of_return(signature: &str, items: bool) -> Shape {
    let Some((_, ret)) = signature.rsplit_once("->") else {
        return Shape::Unknown;
    };
    let mut ty = ret.split(" where ").next().unwrap_or(ret).trim();
    ty = strip_wrapper(ty, "Result<").map_or(ty, first_argument);
    if items {
        for wrapper in ["Vec<", "Option<", "std::vec::Vec<", "std::option::Option<"] {
            if let Some(inner) = strip_wrapper(ty, wrapper) {
                ty = first_argument(inner);
                break;
            }
        }
        if let Some(at) = ty.find("Item = ") {
            let inner = &ty[at + 7..];
            ty = inner.strip_suffix('>').unwrap_or(inner).trim();
        }
    } else if let Some(inner) = strip_wrapper(ty, "Option<") {
        ty = first_argument(inner);
    }
    of_type(ty.trim())
}

/// `inner` of `wrapper...>` when `ty` is that.
fn strip_wrapper<'a>(ty: &'a str, wrapper: &str) -> Option<&'a str> {
    ty.strip_prefix(wrapper)?.strip_suffix('>')
}

/// The first of comma-separated type arguments, at depth zero.
fn first_argument(args: &str) -> &str {
    let mut depth = 0i32;
    for (i, c) in args.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => return args[..i].trim(),
            _ => {}
        }
    }
    args.trim()
}

/// The shape of a Rust type written as text.
fn of_type(ty: &str) -> Shape {
    if let Some(inner) = ty.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        let first = first_argument(inner);
        let rest = inner[first.len()..].trim_start_matches(',').trim();
        let second = first_argument(rest);
        let more = rest[second.len()..].trim_start_matches(',').trim();
        return if !first.is_empty() && !second.is_empty() && more.is_empty() {
            Shape::Pairs
        } else {
            Shape::Not(format!("`{ty}`"))
        };
    }
    let plain = ty
        .trim_start_matches('&')
        .trim_start_matches("'static ")
        .trim();
    const SCALARS: [&str; 18] = [
        "str", "String", "bool", "char", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16",
        "i32", "i64", "i128", "isize", "f32", "f64",
    ];
    if SCALARS.contains(&plain) {
        Shape::Not(format!("`{ty}`"))
    } else {
        Shape::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_types_tell_pairs_from_scalars_and_leave_named_types_unknown() {
        let not = |t: &str| Shape::Not(format!("`{t}`"));
        for (signature, items, shape) in [
            (
                "fn split_words(line: &str) -> impl Iterator<Item = (&str, u64)>",
                true,
                Shape::Pairs,
            ),
            (
                "fn parse_pair(line: &str) -> Result<(&str, i64), String>",
                false,
                Shape::Pairs,
            ),
            ("fn len(line: &str) -> usize", false, not("usize")),
            ("fn words(line: &str) -> Vec<String>", true, not("String")),
            (
                "fn parse(line: &str) -> Option<Event>",
                false,
                Shape::Unknown,
            ),
            (
                "fn triple(x: u64) -> (u64, u64, u64)",
                false,
                not("(u64, u64, u64)"),
            ),
            (
                "fn nested(x: u64) -> (Vec<(u8, u8)>, u64)",
                false,
                Shape::Pairs,
            ),
        ] {
            assert_eq!(of_return(signature, items), shape, "{signature}");
        }
    }
}
