//! Runs one batch through the plan: read the sources, run every step with all
//! partitions in parallel, and hand the sinks their nodes' outputs.

use crate::batch::BatchInput;
use crate::config::{Op, Pipeline};
use crate::operator::narrow::{StageWork, run_chain, union};
use crate::operator::{StageError, StageRuntime, first_error, global, shuffle};
use crate::plan::{NodeId, NodeKind, Plan, Step};
use crate::plugin::Registry;
use crate::record::Records;
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// What one stage did in one batch, over all partitions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StageMetrics {
    /// The stage's name.
    pub name: String,
    /// Records it emitted.
    pub records_out: u64,
    /// Time spent in it, summed over partitions.
    pub time: Duration,
}

/// A batch that ran to the end of its last step.
#[derive(Debug)]
pub struct BatchResult {
    /// The batch time.
    pub time_ms: u64,
    /// Records read per source, in pipeline order.
    pub records_in: Vec<u64>,
    /// Outputs of the nodes sinks read, by node id.
    pub outputs: Vec<Option<Vec<Records>>>,
    /// Per stage, in pipeline order.
    pub stages: Vec<StageMetrics>,
}

/// Runs batches of one pipeline.
pub struct Executor {
    plan: Plan,
    stages: Vec<StageRuntime>,
    partitions: usize,
    sink_nodes: Vec<bool>,
}

impl Executor {
    /// An executor for `pipeline` with its loaded plugins.
    pub fn new(pipeline: &Pipeline, registry: &Registry) -> Self {
        let plan = Plan::new(pipeline);
        let stages = pipeline
            .stages
            .iter()
            .map(|s| StageRuntime::new(s, registry, pipeline.partitions))
            .collect();
        let mut sink_nodes = vec![false; plan.nodes.len()];
        for &node in &plan.sinks {
            sink_nodes[node] = true;
        }
        Executor {
            plan,
            stages,
            partitions: pipeline.partitions,
            sink_nodes,
        }
    }

    /// The plan batches run.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    fn stage(&self, node: NodeId) -> &StageRuntime {
        match self.plan.nodes[node].kind {
            NodeKind::Stage(i) => &self.stages[i],
            NodeKind::Source(_) => unreachable!("steps hold stages only"),
        }
    }

    fn stage_index(&self, node: NodeId) -> usize {
        match self.plan.nodes[node].kind {
            NodeKind::Stage(i) => i,
            NodeKind::Source(_) => unreachable!("steps hold stages only"),
        }
    }

    /// Runs one batch. The first failure (in step order, then partition order) fails
    /// the whole batch: its outputs are all or nothing.
    pub fn run(&self, input: BatchInput) -> Result<BatchResult, StageError> {
        let time_ms = input.time_ms;
        let mut outputs: Vec<Option<Vec<Records>>> = vec![None; self.plan.nodes.len()];
        let mut unread: Vec<usize> = self.plan.nodes.iter().map(|n| n.readers).collect();
        let mut records_in = Vec::with_capacity(input.sources.len());
        let sources: Vec<Vec<Records>> = input
            .sources
            .into_par_iter()
            .map(|batch| batch.materialize(self.partitions))
            .collect();
        for (i, parts) in sources.into_iter().enumerate() {
            records_in.push(parts.iter().map(|p| p.len() as u64).sum());
            outputs[i] = Some(parts);
        }
        let mut metrics: Vec<StageMetrics> = self
            .stages
            .iter()
            .map(|s| StageMetrics {
                name: s.name.clone(),
                ..StageMetrics::default()
            })
            .collect();
        for step in &self.plan.steps {
            let (head, last) = match step {
                Step::Narrow(chain) => (chain[0], *chain.last().unwrap_or(&chain[0])),
                Step::Wide(node) => (*node, *node),
            };
            let inputs: Vec<&[Records]> = self.plan.nodes[head]
                .inputs
                .iter()
                .map(|&i| outputs[i].as_deref().unwrap_or(&[]))
                .collect();
            let input = union(&inputs);
            let result = match step {
                Step::Narrow(chain) => self.run_chain(chain, &input, time_ms, &mut metrics)?,
                Step::Wide(node) => {
                    let started = Instant::now();
                    let stage = self.stage(*node);
                    let out = match stage.op {
                        Op::Count => global::count(&input),
                        Op::Reduce => global::reduce(stage, &input, time_ms)?,
                        _ => shuffle::run(stage, &input, time_ms)?,
                    };
                    let m = &mut metrics[self.stage_index(*node)];
                    m.records_out = out.iter().map(|p| p.len() as u64).sum();
                    m.time = started.elapsed();
                    out
                }
            };
            drop(input);
            for input in self.plan.nodes[head].inputs.clone() {
                unread[input] -= 1;
                if unread[input] == 0 {
                    outputs[input] = None;
                }
            }
            outputs[last] = Some(result);
        }
        for (node, output) in outputs.iter_mut().enumerate() {
            if !self.sink_nodes[node] {
                *output = None;
            }
        }
        Ok(BatchResult {
            time_ms,
            records_in,
            outputs,
            stages: metrics,
        })
    }

    fn run_chain(
        &self,
        chain: &[NodeId],
        input: &[Records],
        time_ms: u64,
        metrics: &mut [StageMetrics],
    ) -> Result<Vec<Records>, StageError> {
        let stages: Vec<&StageRuntime> = chain.iter().map(|&n| self.stage(n)).collect();
        let results: Vec<Result<(Records, Vec<StageWork>), StageError>> = input
            .par_iter()
            .enumerate()
            .map(|(p, part)| run_chain(&stages, part, time_ms, p))
            .collect();
        let done = first_error(results)?;
        let mut out = Vec::with_capacity(done.len());
        for (records, work) in done {
            for (&node, w) in chain.iter().zip(work) {
                let m = &mut metrics[self.stage_index(node)];
                m.records_out += w.records_out;
                m.time += w.time;
            }
            out.push(records);
        }
        Ok(out)
    }
}
