//! Runs one batch through the plan: read the sources, run every step with all
//! partitions in parallel, and hand the sinks their nodes' outputs.

use crate::batch::BatchInput;
use crate::config::{Op, Pipeline};
use crate::operator::narrow::{StageWork, run_chain, union};
use crate::operator::{
    StageError, StageRuntime, first_error, global, join, shuffle, stateful, window,
};
use crate::plan::{NodeId, NodeKind, Plan, Step};
use crate::plugin::Registry;
use crate::record::Records;
use crate::state::{KeyedState, StageChange, StageState, WindowState, load_initial_state};
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

/// State changes a batch made, by stage index, applied by [`Executor::commit`] once the
/// batch has been written.
#[derive(Debug, Default)]
pub struct PendingChanges(Vec<(usize, StageChange)>);

/// Runs batches of one pipeline and owns the state of its stateful stages.
pub struct Executor {
    plan: Plan,
    stages: Vec<StageRuntime>,
    states: Vec<StageState>,
    partitions: usize,
    sink_nodes: Vec<bool>,
}

/// What a wide step produced.
struct WideOutput {
    output: Vec<Records>,
    snapshots: Option<Vec<Records>>,
    change: Option<StageChange>,
}

impl Executor {
    /// An executor for `pipeline` with its loaded plugins.
    pub fn new(pipeline: &Pipeline, registry: &Registry) -> Self {
        let plan = Plan::new(pipeline);
        let stages: Vec<StageRuntime> = pipeline
            .stages
            .iter()
            .map(|s| StageRuntime::new(s, registry, pipeline.partitions))
            .collect();
        let states = stages
            .iter()
            .map(|s| match s.op {
                op if op.is_keyed_state() => StageState::Keyed(KeyedState::new(s.partitions)),
                op if op.is_windowed() => StageState::Window(WindowState::default()),
                _ => StageState::Stateless,
            })
            .collect();
        let mut sink_nodes = vec![false; plan.nodes.len()];
        for &node in &plan.sinks {
            sink_nodes[node] = true;
        }
        Executor {
            plan,
            stages,
            states,
            partitions: pipeline.partitions,
            sink_nodes,
        }
    }

    /// Loads the `initial_state` files of keyed-state stages, every key touched at
    /// `now_ms`.
    pub fn load_initial_state(&mut self, pipeline: &Pipeline, now_ms: u64) -> anyhow::Result<()> {
        for (spec, state) in pipeline.stages.iter().zip(&mut self.states) {
            if let (Some(file), StageState::Keyed(keyed)) = (&spec.initial_state, state) {
                let n = load_initial_state(file, keyed, now_ms)?;
                tracing::info!(
                    "stage `{}`: loaded the state of {n} keys from {}",
                    spec.name,
                    file.display()
                );
            }
        }
        Ok(())
    }

    /// Applies the state changes of a batch whose output is complete.
    pub fn commit(&mut self, changes: PendingChanges) {
        for (stage, change) in changes.0 {
            self.states[stage].apply(change);
        }
    }

    /// The state of the stage at `index` in the pipeline.
    pub fn state(&self, index: usize) -> &StageState {
        &self.states[index]
    }

    /// The stages, in pipeline order.
    pub fn stages(&self) -> &[StageRuntime] {
        &self.stages
    }

    /// The plan batches run.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    fn stage(&self, node: NodeId) -> &StageRuntime {
        match self.plan.nodes[node].kind {
            NodeKind::Stage(i) => &self.stages[i],
            _ => unreachable!("steps hold stages only"),
        }
    }

    fn stage_index(&self, node: NodeId) -> usize {
        match self.plan.nodes[node].kind {
            NodeKind::Stage(i) => i,
            _ => unreachable!("steps hold stages only"),
        }
    }

    /// Runs one batch. The first failure (in step order, then partition order) fails
    /// the whole batch: its outputs are all or nothing, and state changes come back
    /// separately, to be committed only once the output is written.
    pub fn run(&self, input: BatchInput) -> Result<(BatchResult, PendingChanges), StageError> {
        let mut pending = PendingChanges::default();
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
            let mut snapshots = None;
            let result = match step {
                Step::Narrow(chain) => {
                    self.run_chain(chain, &union(&inputs), time_ms, &mut metrics)?
                }
                Step::Wide(node) => {
                    let started = Instant::now();
                    let index = self.stage_index(*node);
                    let wide = self.wide(index, &inputs, time_ms)?;
                    let m = &mut metrics[index];
                    m.records_out = wide.output.iter().map(|p| p.len() as u64).sum();
                    m.time = started.elapsed();
                    snapshots = self.plan.snapshots[*node].zip(wide.snapshots);
                    if let Some(change) = wide.change {
                        pending.0.push((index, change));
                    }
                    wide.output
                }
            };
            drop(inputs);
            if let Some((id, records)) = snapshots {
                outputs[id] = Some(records);
            }
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
        let result = BatchResult {
            time_ms,
            records_in,
            outputs,
            stages: metrics,
        };
        Ok((result, pending))
    }

    /// Runs the wide stage at `index` over its inputs.
    fn wide(
        &self,
        index: usize,
        inputs: &[&[Records]],
        time_ms: u64,
    ) -> Result<WideOutput, StageError> {
        let stage = &self.stages[index];
        let plain = |output| WideOutput {
            output,
            snapshots: None,
            change: None,
        };
        if stage.op.is_join() {
            return Ok(plain(join::run(stage, inputs[0], inputs[1])?));
        }
        let input = union(inputs);
        let state = &self.states[index];
        Ok(match stage.op {
            Op::Count => plain(global::count(&input)),
            Op::Reduce => plain(global::reduce(stage, &input, time_ms)?),
            Op::UpdateStateByKey | Op::MapWithState => {
                let keyed = state.keyed().expect("keyed-state stages have keyed state");
                let out = if stage.op == Op::UpdateStateByKey {
                    stateful::update_state_by_key(stage, &input, time_ms, keyed)?
                } else {
                    stateful::map_with_state(stage, &input, time_ms, keyed)?
                };
                WideOutput {
                    output: out.output,
                    snapshots: out.snapshots,
                    change: Some(StageChange::Keyed(out.changes)),
                }
            }
            op if op.is_windowed() => {
                let buffers = state.window().expect("window stages have window state");
                let (output, change) = window::run(stage, &input, time_ms, buffers)?;
                WideOutput {
                    output,
                    snapshots: None,
                    change: Some(StageChange::Window(change)),
                }
            }
            _ => plain(shuffle::run(stage, &input, time_ms)?),
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
