//! From a checked pipeline to the steps a batch runs.
//!
//! Sources and stages become nodes in dependency order. Consecutive narrow stages
//! (map, flat_map, filter, map_partition, union) where each feeds only the next are
//! fused into one [`Step::Narrow`]: a batch runs the whole chain on a partition in one
//! pass, and only the chain's last output is kept. Shuffles and whole-batch operators
//! are one [`Step::Wide`] each.

use crate::config::{Op, Pipeline};
use std::collections::HashMap;

/// Index of a node in [`Plan::nodes`].
pub type NodeId = usize;

/// A source or a stage.
#[derive(Clone, Debug)]
pub struct Node {
    /// Its name in the pipeline file.
    pub name: String,
    /// What it is.
    pub kind: NodeKind,
    /// The nodes it reads.
    pub inputs: Vec<NodeId>,
    /// How many stages and sinks read it.
    pub readers: usize,
}

/// Whether a node is a source or a stage, with its index in the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// `pipeline.sources[i]`.
    Source(usize),
    /// `pipeline.stages[i]`.
    Stage(usize),
    /// The state snapshots of `pipeline.stages[i]`, produced by that stage's step.
    Snapshots(usize),
}

/// A unit of a batch's work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Narrow stages run one after another on each partition; the first reads the
    /// union of its inputs.
    Narrow(Vec<NodeId>),
    /// A stage that moves records between partitions, or combines the whole batch.
    Wide(NodeId),
}

/// The nodes and steps of a pipeline.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Sources first, then stages in dependency order.
    pub nodes: Vec<Node>,
    /// What a batch runs, in order.
    pub steps: Vec<Step>,
    /// For each sink, in pipeline order, the node it writes.
    pub sinks: Vec<NodeId>,
    /// For each node, the node holding its state snapshots, if it has one.
    pub snapshots: Vec<Option<NodeId>>,
}

impl Plan {
    /// Plans `pipeline`, which `config::load` has checked (names resolve, no cycles).
    pub fn new(pipeline: &Pipeline) -> Plan {
        let mut nodes: Vec<Node> = pipeline
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| Node {
                name: s.name.clone(),
                kind: NodeKind::Source(i),
                inputs: Vec::new(),
                readers: 0,
            })
            .collect();
        let mut ids: HashMap<String, NodeId> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        // Kahn's algorithm over stages, in file order among the ready ones.
        let mut placed = vec![false; pipeline.stages.len()];
        while placed.iter().any(|p| !p) {
            let ready = (0..pipeline.stages.len()).find(|&i| {
                !placed[i]
                    && pipeline.stages[i]
                        .inputs
                        .iter()
                        .all(|input| ids.contains_key(input))
            });
            let Some(i) = ready else {
                unreachable!("config::load rejects cycles and unknown inputs");
            };
            placed[i] = true;
            let stage = &pipeline.stages[i];
            let inputs = stage.inputs.iter().map(|input| ids[input]).collect();
            let id = nodes.len();
            ids.insert(stage.name.clone(), id);
            nodes.push(Node {
                name: stage.name.clone(),
                kind: NodeKind::Stage(i),
                inputs,
                readers: 0,
            });
            if let Some(name) = stage.snapshots_node() {
                // Not an input of anything upstream: the stage's step fills it directly.
                ids.insert(name.clone(), id + 1);
                nodes.push(Node {
                    name,
                    kind: NodeKind::Snapshots(i),
                    inputs: Vec::new(),
                    readers: 0,
                });
            }
        }
        let sinks: Vec<NodeId> = pipeline.sinks.iter().map(|s| ids[&s.input]).collect();
        for i in 0..nodes.len() {
            for input in nodes[i].inputs.clone() {
                nodes[input].readers += 1;
            }
        }
        for &sink in &sinks {
            nodes[sink].readers += 1;
        }
        let snapshots = (0..nodes.len())
            .map(
                |id| match (nodes[id].kind, nodes.get(id + 1).map(|n| n.kind)) {
                    (NodeKind::Stage(i), Some(NodeKind::Snapshots(j))) if i == j => Some(id + 1),
                    _ => None,
                },
            )
            .collect();
        let steps = fuse(pipeline, &nodes);
        Plan {
            nodes,
            steps,
            sinks,
            snapshots,
        }
    }

    /// The op of a stage node.
    pub fn op(&self, pipeline: &Pipeline, node: NodeId) -> Option<Op> {
        match self.nodes[node].kind {
            NodeKind::Stage(i) => Some(pipeline.stages[i].op),
            NodeKind::Source(_) | NodeKind::Snapshots(_) => None,
        }
    }
}

fn fuse(pipeline: &Pipeline, nodes: &[Node]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut chain_of: HashMap<NodeId, usize> = HashMap::new();
    for (id, node) in nodes.iter().enumerate() {
        let NodeKind::Stage(i) = node.kind else {
            continue;
        };
        if !pipeline.stages[i].op.is_narrow() {
            steps.push(Step::Wide(id));
            continue;
        }
        // Join the chain of a single narrow input that nothing else reads.
        let joinable = match node.inputs[..] {
            [input] if nodes[input].readers == 1 => chain_of.get(&input).copied(),
            _ => None,
        };
        match joinable {
            Some(step) => {
                if let Step::Narrow(chain) = &mut steps[step] {
                    chain.push(id);
                }
                chain_of.insert(id, step);
            }
            None => {
                chain_of.insert(id, steps.len());
                steps.push(Step::Narrow(vec![id]));
            }
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(toml: &str) -> (Pipeline, Plan) {
        let dir = std::env::temp_dir();
        let pipeline = crate::config::parse_str(&dir.join("plan-test.toml"), toml).unwrap();
        let plan = Plan::new(&pipeline);
        (pipeline, plan)
    }

    const HEAD: &str = "[sources.in]\ntype = \"stdin\"\n";

    #[test]
    fn fuses_a_chain_of_narrow_stages_up_to_a_shuffle() {
        let (_, plan) = plan(&format!(
            "{HEAD}[stages.a]\ninput = \"in\"\nop = \"union\"\n[stages.b]\ninput = \"a\"\nop = \"union\"\n\
             [stages.c]\ninput = \"b\"\nop = \"repartition\"\n[stages.d]\ninput = \"c\"\nop = \"union\"\n\
             [sinks.out]\ninput = \"d\"\ntype = \"print\"\n"
        ));
        let names = |ids: &[NodeId]| {
            ids.iter()
                .map(|&i| plan.nodes[i].name.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(plan.steps.len(), 3);
        assert!(matches!(&plan.steps[0], Step::Narrow(c) if names(c) == ["a", "b"]));
        assert!(matches!(&plan.steps[1], Step::Wide(w) if plan.nodes[*w].name == "c"));
        assert!(matches!(&plan.steps[2], Step::Narrow(c) if names(c) == ["d"]));
    }

    #[test]
    fn a_stage_read_twice_ends_its_chain() {
        let (_, plan) = plan(&format!(
            "{HEAD}[stages.a]\ninput = \"in\"\nop = \"union\"\n[stages.b]\ninput = \"a\"\nop = \"union\"\n\
             [sinks.x]\ninput = \"a\"\ntype = \"print\"\n[sinks.y]\ninput = \"b\"\ntype = \"print\"\n"
        ));
        assert_eq!(plan.steps.len(), 2, "{:?}", plan.steps);
        assert_eq!(plan.sinks.len(), 2);
    }

    #[test]
    fn orders_stages_by_dependency_not_file_order() {
        let (_, plan) = plan(&format!(
            "{HEAD}[stages.late]\ninputs = [\"early\", \"in\"]\nop = \"union\"\n[stages.early]\ninput = \"in\"\nop = \"union\"\n\
             [sinks.out]\ninput = \"late\"\ntype = \"print\"\n"
        ));
        let order: Vec<_> = plan.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(order, ["in", "early", "late"]);
        assert_eq!(plan.nodes[0].readers, 2);
    }
}
