//! Runs one batch through the plan: read the sources, run every step with all
//! partitions in parallel, and hand the sinks their nodes' outputs.

use crate::batch::BatchInput;
use crate::config::{Op, Pipeline};
use crate::operator::isolate::DeadLetter;
use crate::operator::narrow::{StageWork, run_chain, union};
use crate::operator::{
    StageError, StageRuntime, first_error, global, join, shuffle, stateful, window,
};
use crate::plan::{NodeId, NodeKind, Plan, Step};
use crate::plugin::{PluginVersion, Registry};
use crate::record::Records;
use crate::state::{KeyedState, StageChange, StageState, WindowState, load_initial_state};
use crate::swap::migrate::migration;
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one stage did in one batch, over all partitions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StageMetrics {
    /// The stage's name.
    pub name: String,
    /// Records it was given.
    pub records_in: u64,
    /// Records it emitted.
    pub records_out: u64,
    /// Time spent in it, summed over partitions.
    pub time: Duration,
    /// Its output was combined per key in the plugin (`#[flat_map(combine)]`): one
    /// pair per distinct key and partition, not one per record the function emitted.
    pub combined: bool,
}

/// A batch's input, read from every source and split into partitions. Kept until the
/// batch has succeeded, so that it can be run again (after a plugin is rolled back).
#[derive(Debug)]
pub struct Materialized {
    /// The batch time.
    pub time_ms: u64,
    /// Per source, in pipeline order, its partitions.
    pub sources: Vec<Vec<Records>>,
}

/// A batch that ran to the end of its last step.
#[derive(Debug)]
pub struct BatchResult<'a> {
    /// The batch time.
    pub time_ms: u64,
    /// Records read per source, in pipeline order.
    pub records_in: Vec<u64>,
    /// Outputs of the nodes sinks read, by node id.
    pub outputs: Vec<Option<Cow<'a, [Records]>>>,
    /// Per stage, in pipeline order.
    pub stages: Vec<StageMetrics>,
    /// Records plugins failed on, set aside.
    pub dead_letters: Vec<DeadLetter>,
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
    /// Content hashes of plugin versions on probation: their failures are not bisected.
    probation: HashSet<String>,
    /// Each stage's function as the pipeline file names it (fusion may call another).
    declared: Vec<Option<String>>,
}

/// What a wide step produced.
struct WideOutput {
    output: Vec<Records>,
    snapshots: Option<Vec<Records>>,
    change: Option<StageChange>,
    dead_letters: Vec<DeadLetter>,
}

impl Executor {
    /// An executor for `pipeline` with its loaded plugins.
    pub fn new(pipeline: &Pipeline, registry: &Registry) -> Self {
        let plan = Plan::new(pipeline);
        let mut stages: Vec<StageRuntime> = pipeline
            .stages
            .iter()
            .map(|s| StageRuntime::new(s, registry, pipeline.partitions))
            .collect();
        let declared: Vec<Option<String>> = pipeline
            .stages
            .iter()
            .map(|s| s.function.as_ref().map(|f| f.function.clone()))
            .collect();
        fuse_combines(&plan, &declared, &mut stages);
        let states = stages
            .iter()
            .map(|s| match s.op {
                // State the running version writes is in the encoding its migrate
                // function produces, if it has one.
                op if op.is_keyed_state() => StageState::Keyed(KeyedState::with_encoding(
                    s.partitions,
                    s.function
                        .as_ref()
                        .and_then(|f| migration(&f.plugin, &f.function))
                        .map(|m| m.encoding),
                )),
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
            probation: HashSet::new(),
            declared,
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

    /// Reads every source's share of a batch into partitions, sources in parallel.
    pub fn materialize(&self, input: BatchInput) -> Materialized {
        Materialized {
            time_ms: input.time_ms,
            sources: input
                .sources
                .into_par_iter()
                .map(|b| b.materialize(self.partitions))
                .collect(),
        }
    }

    /// Makes every stage that calls plugin `name` call `version` from the next batch on.
    pub fn rebind(&mut self, name: &str, version: &Arc<PluginVersion>) {
        for stage in &mut self.stages {
            for bound in [&mut stage.function, &mut stage.inverse, &mut stage.filter]
                .into_iter()
                .flatten()
            {
                if bound.plugin.name() == name {
                    bound.plugin = version.clone();
                }
            }
        }
        // The new version may combine differently, or not at all.
        fuse_combines(&self.plan, &self.declared, &mut self.stages);
    }

    /// Sets the plugin versions on probation (just swapped in).
    pub fn set_probation(&mut self, hashes: HashSet<String>) {
        self.probation = hashes;
    }

    /// The stages, in pipeline order.
    pub fn stages(&self) -> &[StageRuntime] {
        &self.stages
    }

    /// Replaces the state of the stage at `index`, returning the old one.
    pub fn replace_state(&mut self, index: usize, state: StageState) -> StageState {
        std::mem::replace(&mut self.states[index], state)
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
    pub fn run<'a>(
        &self,
        batch: &'a Materialized,
    ) -> Result<(BatchResult<'a>, PendingChanges), StageError> {
        let mut pending = PendingChanges::default();
        let mut dead_letters = Vec::new();
        let time_ms = batch.time_ms;
        let mut outputs: Vec<Option<Cow<'a, [Records]>>> = vec![None; self.plan.nodes.len()];
        let mut unread: Vec<usize> = self.plan.nodes.iter().map(|n| n.readers).collect();
        let mut records_in = Vec::with_capacity(batch.sources.len());
        for (i, parts) in batch.sources.iter().enumerate() {
            records_in.push(parts.iter().map(|p| p.len() as u64).sum());
            outputs[i] = Some(Cow::Borrowed(parts.as_slice()));
        }
        let mut metrics: Vec<StageMetrics> = self
            .stages
            .iter()
            .map(|s| StageMetrics {
                name: s.name.clone(),
                combined: s
                    .function
                    .as_ref()
                    .is_some_and(|f| f.function.contains(':')),
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
                Step::Narrow(chain) => self.run_chain(
                    chain,
                    &union(&inputs),
                    time_ms,
                    &mut metrics,
                    &mut dead_letters,
                )?,
                Step::Wide(node) => {
                    let started = Instant::now();
                    let index = self.stage_index(*node);
                    let wide = self.wide(index, &inputs, time_ms)?;
                    let m = &mut metrics[index];
                    m.records_in = inputs
                        .iter()
                        .flat_map(|i| i.iter())
                        .map(|p| p.len() as u64)
                        .sum();
                    m.records_out = wide.output.iter().map(|p| p.len() as u64).sum();
                    m.time = started.elapsed();
                    snapshots = self.plan.snapshots[*node].zip(wide.snapshots);
                    if let Some(change) = wide.change {
                        pending.0.push((index, change));
                    }
                    dead_letters.extend(wide.dead_letters);
                    wide.output
                }
            };
            drop(inputs);
            if let Some((id, records)) = snapshots {
                outputs[id] = Some(Cow::Owned(records));
            }
            for input in self.plan.nodes[head].inputs.clone() {
                unread[input] -= 1;
                if unread[input] == 0 {
                    outputs[input] = None;
                }
            }
            outputs[last] = Some(Cow::Owned(result));
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
            dead_letters,
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
            dead_letters: Vec::new(),
        };
        let on_probation = |hash: &str| self.probation.contains(hash);
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
                    stateful::update_state_by_key(stage, &input, time_ms, keyed, &on_probation)?
                } else {
                    stateful::map_with_state(stage, &input, time_ms, keyed, &on_probation)?
                };
                WideOutput {
                    output: out.output,
                    snapshots: out.snapshots,
                    change: Some(StageChange::Keyed(out.changes)),
                    dead_letters: out.dead_letters,
                }
            }
            op if op.is_windowed() => {
                let buffers = state.window().expect("window stages have window state");
                let (output, change) = window::run(stage, &input, time_ms, buffers)?;
                WideOutput {
                    output,
                    snapshots: None,
                    change: Some(StageChange::Window(change)),
                    dead_letters: Vec::new(),
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
        dead_letters: &mut Vec<DeadLetter>,
    ) -> Result<Vec<Records>, StageError> {
        let stages: Vec<&StageRuntime> = chain.iter().map(|&n| self.stage(n)).collect();
        let on_probation = |hash: &str| self.probation.contains(hash);
        type Done = (Records, Vec<StageWork>, Vec<DeadLetter>);
        let results: Vec<Result<Done, StageError>> = input
            .par_iter()
            .enumerate()
            .map(|(p, part)| {
                let mut dead = Vec::new();
                run_chain(&stages, part, time_ms, p, &on_probation, &mut dead)
                    .map(|(r, w)| (r, w, dead))
            })
            .collect();
        let done = first_error(results)?;
        let mut out = Vec::with_capacity(done.len());
        for (records, work, dead) in done {
            dead_letters.extend(dead);
            for (&node, w) in chain.iter().zip(work) {
                let m = &mut metrics[self.stage_index(node)];
                m.records_in += w.records_in;
                m.records_out += w.records_out;
                m.time += w.time;
            }
            out.push(records);
        }
        Ok(out)
    }
}

/// Fuses each flat_map into the map-side combine of the `reduce_by_key` (or keyed window)
/// that alone reads it, when both call the same plugin and it has the combining export
/// `<flat_map>:<reduce>` (`#[flat_map(combine = reduce)]`): the flat_map then calls that
/// export, and the reduce skips its own map-side combine. Re-derived from the declared
/// functions, so that it follows plugin swaps.
fn fuse_combines(plan: &Plan, declared: &[Option<String>], stages: &mut [StageRuntime]) {
    for (stage, name) in stages.iter_mut().zip(declared) {
        if let (Some(bound), Some(name)) = (&mut stage.function, name) {
            bound.function = name.clone();
        }
        stage.precombined = false;
    }
    let stage_of = |node: NodeId| match plan.nodes[node].kind {
        NodeKind::Stage(i) => Some(i),
        _ => None,
    };
    for (id, node) in plan.nodes.iter().enumerate() {
        let Some(s) = stage_of(id) else { continue };
        if stages[s].op != Op::FlatMap || node.readers != 1 {
            continue;
        }
        let Some(reader) = plan.nodes.iter().position(|n| n.inputs == [id]) else {
            continue;
        };
        let Some(r) = stage_of(reader) else { continue };
        if !matches!(stages[r].op, Op::ReduceByKey | Op::ReduceByKeyAndWindow) {
            continue;
        }
        let (Some(producer), Some(reducer)) = (&stages[s].function, &stages[r].function) else {
            continue;
        };
        if producer.plugin.name() != reducer.plugin.name() {
            continue;
        }
        let combined = format!("{}:{}", producer.function, reducer.function);
        let exported = producer
            .plugin
            .entry(&combined)
            .is_some_and(|e| e.kind == sluice_sdk::wire::Kind::FlatMapCombine);
        if exported && Arc::ptr_eq(&producer.plugin, &reducer.plugin) {
            if let Some(bound) = &mut stages[s].function {
                bound.function = combined;
            }
            stages[r].precombined = true;
        }
    }
}
