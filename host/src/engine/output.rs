//! Committing a batch's output: every sink written all or nothing (the staging sinks
//! first, then the others, then the staged batches published; see `sink`), the records
//! plugins failed on set aside as dead letters (those of stages whose `on_error` is
//! `skip` only counted and logged), and, once both are written, every source told that
//! the batch it fed is complete (a Kafka source commits its offsets). A failure says
//! which sink, or the dead letters.

use super::executor::BatchResult;
use super::failure::BatchFailure;
use crate::batch::Shutdown;
use crate::config::{OnError, Pipeline};
use crate::operator::isolate::DeadLetter;
use crate::plan::NodeId;
use crate::record::Records;
use crate::sink::{self, FilesSink, Sink, SinkBatch, SinkSettings};
use crate::source::{Committer, Descriptor};
use anyhow::Context as _;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

/// Why a batch's output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A sink failed; what was staged is discarded.
    #[error("sink `{sink}`: {error:#}")]
    Sink {
        /// The sink's name.
        sink: String,
        /// What happened.
        error: anyhow::Error,
    },
    /// The dead letters could not be written.
    #[error("dead letters: {0:#}")]
    DeadLetters(anyhow::Error),
}

impl OutputError {
    /// The batch failure it is.
    pub fn failure(&self) -> BatchFailure {
        let (place, component) = match self {
            OutputError::Sink { sink, .. } => (format!("sink `{sink}`"), format!("sink:{sink}")),
            OutputError::DeadLetters(_) => ("the dead letters".into(), "dead-letters".into()),
        };
        BatchFailure {
            place,
            component,
            stage_stops: false,
            message: self.to_string(),
        }
    }
}

/// A pipeline's sinks, dead letters and source committers.
pub struct Output {
    /// Each sink with its name and the plan node it reads.
    sinks: Vec<(String, NodeId, Box<dyn Sink>)>,
    dead_letters_dir: PathBuf,
    /// Opened when the first dead letter comes.
    dead_letters: Option<FilesSink>,
    /// Stages whose `on_error` is `skip`.
    skipping: HashSet<String>,
    /// Per source, what to tell when a batch it fed is complete.
    committers: Vec<Option<Arc<dyn Committer>>>,
}

impl Output {
    /// Opens the sinks of `pipeline`, which read the plan nodes `nodes`.
    pub fn open(pipeline: &Pipeline, nodes: &[NodeId]) -> anyhow::Result<Self> {
        let sinks = pipeline
            .sinks
            .iter()
            .zip(nodes)
            .map(|(spec, &node)| {
                let sink = sink::open(spec, &pipeline.name)
                    .with_context(|| format!("sink `{}`", spec.name))?;
                Ok((spec.name.clone(), node, sink))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Output {
            sinks,
            dead_letters_dir: pipeline.dead_letters.clone(),
            dead_letters: None,
            skipping: pipeline
                .stages
                .iter()
                .filter(|s| s.on_error == OnError::Skip)
                .map(|s| s.name.clone())
                .collect(),
            committers: Vec::new(),
        })
    }

    /// Hands every sink the run's stop signal.
    pub fn watch(&mut self, shutdown: &Shutdown) {
        for (_, _, sink) in &mut self.sinks {
            sink.watch(shutdown);
        }
    }

    /// Gives the sink `name` settings edited while the pipeline runs, from the next
    /// batch on; returns whether it took them.
    pub fn reconfigure(&mut self, name: &str, settings: &dyn SinkSettings) -> bool {
        self.sinks
            .iter_mut()
            .find(|(sink, _, _)| sink == name)
            .is_some_and(|(_, _, sink)| sink.reconfigure(settings))
    }

    /// What each source (in pipeline order) wants told when a batch it fed is complete.
    pub fn set_committers(&mut self, committers: Vec<Option<Arc<dyn Committer>>>) {
        self.committers = committers;
    }

    /// Writes the batch to every sink, all or nothing, then its dead letters. Returns the
    /// records written to sinks.
    pub fn write(
        &mut self,
        result: &BatchResult<'_>,
        versions: &[(String, String)],
    ) -> Result<u64, OutputError> {
        let written = self.write_sinks(result, versions)?;
        self.set_aside(result.time_ms, &result.dead_letters, versions)?;
        Ok(written)
    }

    /// Tells every source that the batch it fed `descriptors` is complete.
    pub fn complete(&self, descriptors: &[Descriptor]) {
        for (committer, descriptor) in self.committers.iter().zip(descriptors) {
            if let Some(committer) = committer {
                committer.commit(descriptor);
            }
        }
    }

    fn write_sinks(
        &mut self,
        result: &BatchResult<'_>,
        versions: &[(String, String)],
    ) -> Result<u64, OutputError> {
        let time_ms = result.time_ms;
        let mut order: Vec<usize> = (0..self.sinks.len()).collect();
        order.sort_by_key(|&i| !self.sinks[i].2.stages());
        let mut written = 0;
        let mut staged: Vec<usize> = Vec::new();
        for i in order {
            let (name, node, sink) = &mut self.sinks[i];
            let partitions = result.outputs[*node].as_deref().unwrap_or(&[]);
            if partitions.is_empty() {
                // No batch at this time (a window between slides): nothing to write, as
                // Spark's output operations skip times with no RDD.
                continue;
            }
            let outcome = sink.write(&SinkBatch {
                time_ms,
                partitions,
                versions,
            });
            if let Err(error) = outcome {
                let sink = name.clone();
                for &j in &staged {
                    self.sinks[j].2.discard(time_ms);
                }
                return Err(OutputError::Sink { sink, error });
            }
            if sink.stages() {
                staged.push(i);
            }
            written += partitions.iter().map(|p| p.len() as u64).sum::<u64>();
        }
        for i in staged {
            let (name, _, sink) = &mut self.sinks[i];
            sink.publish(time_ms).map_err(|error| OutputError::Sink {
                sink: name.clone(),
                error,
            })?;
        }
        Ok(written)
    }

    /// Writes dead letters as a batch directory of the dead-letter output (a files
    /// sink), but those of stages whose `on_error` is `skip`, which are only logged.
    pub fn set_aside(
        &mut self,
        time_ms: u64,
        dead: &[DeadLetter],
        versions: &[(String, String)],
    ) -> Result<(), OutputError> {
        let mut records = Records::new();
        for letter in dead {
            if self.skipping.contains(&letter.stage) {
                tracing::warn!(
                    "stage `{}`: skipped a record `{}` failed on: {}",
                    letter.stage,
                    letter.function,
                    letter.error
                );
            } else {
                records.push_encoded(&letter.encode(time_ms));
            }
        }
        if records.is_empty() {
            return Ok(());
        }
        let sink = match &mut self.dead_letters {
            Some(sink) => sink,
            None => self.dead_letters.insert(
                FilesSink::new(&self.dead_letters_dir, "dead-letters")
                    .map_err(OutputError::DeadLetters)?,
            ),
        };
        let count = records.len();
        let partitions = [records];
        sink.write_now(&SinkBatch {
            time_ms,
            partitions: &partitions,
            versions,
        })
        .map_err(OutputError::DeadLetters)?;
        tracing::warn!(
            "batch {time_ms}: {count} records a plugin failed on were set aside in {}",
            sink.batch_dir(time_ms).display()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    /// A sink that refuses every batch.
    struct Refusing;

    impl Sink for Refusing {
        fn write(&mut self, _: &SinkBatch<'_>) -> anyhow::Result<()> {
            anyhow::bail!("the disk is full")
        }
    }

    #[test]
    fn a_failing_sink_fails_the_batch_by_name_and_nothing_staged_is_published() {
        let dir = std::env::temp_dir().join(format!("sluice-output-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let files = FilesSink::new(&dir.join("out"), "batch").unwrap();
        let mut output = Output {
            sinks: vec![
                ("refusing".into(), 0, Box::new(Refusing)),
                ("files".into(), 0, Box::new(files)),
            ],
            dead_letters_dir: dir.join("dead-letters"),
            dead_letters: None,
            skipping: HashSet::new(),
            committers: Vec::new(),
        };
        let records: Records = ["a", "b"].into_iter().collect();
        let result = BatchResult {
            time_ms: 1_000,
            records_in: vec![2],
            outputs: vec![Some(Cow::Owned(vec![records]))],
            stages: Vec::new(),
            dead_letters: Vec::new(),
        };
        let error = output.write(&result, &[]).unwrap_err();
        assert_eq!(error.to_string(), "sink `refusing`: the disk is full");
        assert_eq!(error.failure().component, "sink:refusing");
        // The files sink staged first (it stages), and its batch was discarded.
        assert_eq!(std::fs::read_dir(dir.join("out")).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
