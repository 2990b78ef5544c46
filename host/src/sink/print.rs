//! `type = "print"`: Spark's pprint. A line of dashes, `Time: <batch time> ms`, a line
//! of dashes, the first `num` records, `...` if there were more, and a blank line.

use super::{Sink, SinkBatch, SinkKind, SinkSettings};
use crate::render;
use std::io::Write;
use std::sync::Arc;

/// `type = "print"`: `num`, how many records to show per batch (default 10), and
/// `skip_empty` (default false: a header for every batch, as Spark prints).
pub const KIND: SinkKind = SinkKind {
    name: "print",
    read: |r, _| {
        Some(Arc::new(Print {
            num: r.integer("num", 1).map_or(10, |n| n as usize),
            skip_empty: r.boolean("skip_empty").unwrap_or(false),
        }))
    },
};

/// The settings of a print sink.
#[derive(Debug, PartialEq, Eq)]
pub struct Print {
    /// How many records to show per batch.
    pub num: usize,
    /// Print nothing for a batch without records.
    pub skip_empty: bool,
}

impl SinkSettings for Print {
    fn open(&self, _: &str, _: &str) -> anyhow::Result<Box<dyn Sink>> {
        let mut sink = PrintSink::stdout(self.num);
        sink.skip_empty = self.skip_empty;
        Ok(Box::new(sink))
    }
}

/// Prints the head of every batch.
pub struct PrintSink {
    num: usize,
    skip_empty: bool,
    out: Box<dyn Write + Send>,
    /// Set once the reader went away (`sluice run ... | head`): printing stops, the
    /// pipeline and its other sinks go on.
    closed: bool,
}

impl PrintSink {
    /// A print sink writing to standard output.
    pub fn stdout(num: usize) -> Self {
        PrintSink::to(num, Box::new(std::io::stdout()))
    }

    /// A print sink writing to `out` (for tests).
    pub fn to(num: usize, out: Box<dyn Write + Send>) -> Self {
        PrintSink {
            num,
            skip_empty: false,
            out,
            closed: false,
        }
    }
}

const DASHES: &str = "-------------------------------------------";

/// The text `print` shows for one batch.
pub fn format_batch(batch: &SinkBatch<'_>, num: usize) -> String {
    let mut text = format!("{DASHES}\nTime: {} ms", batch.time_ms);
    // Which plugin versions produced the batch, after the time Spark's header shows.
    if !batch.versions.is_empty() {
        let lineage: Vec<String> = batch
            .versions
            .iter()
            .map(|(name, hash)| format!("{name}@{hash}"))
            .collect();
        text.push_str(&format!("  [{}]", lineage.join(" ")));
    }
    text.push_str(&format!("\n{DASHES}\n"));
    let mut records = batch.partitions.iter().flat_map(|p| p.iter());
    for record in records.by_ref().take(num) {
        render::display(record, &mut text);
        text.push('\n');
    }
    if records.next().is_some() {
        text.push_str("...\n");
    }
    text.push('\n');
    text
}

impl Sink for PrintSink {
    fn write(&mut self, batch: &SinkBatch<'_>) -> anyhow::Result<()> {
        if self.closed {
            return Ok(());
        }
        if self.skip_empty && batch.partitions.iter().all(|p| p.is_empty()) {
            return Ok(());
        }
        let written = self
            .out
            .write_all(format_batch(batch, self.num).as_bytes())
            .and_then(|()| self.out.flush());
        match written {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                tracing::warn!(
                    "standard output was closed; the print sink stops printing and the pipeline goes on"
                );
                self.closed = true;
                Ok(())
            }
            other => Ok(other?),
        }
    }

    fn reconfigure(&mut self, settings: &dyn SinkSettings) -> bool {
        let any: &dyn std::any::Any = settings;
        let Some(print) = any.downcast_ref::<Print>() else {
            return false;
        };
        self.num = print.num;
        self.skip_empty = print.skip_empty;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Records;

    #[test]
    fn matches_spark_pprint_layout() {
        let mut a = Records::new();
        let mut b = Records::new();
        for (word, n) in [("to", 2), ("be", 2)] {
            let pair = rmp_serde::to_vec(&(word, n)).unwrap();
            a.push_encoded(&pair);
        }
        b.push_encoded(&rmp_serde::to_vec(&("or", 1)).unwrap());
        let parts = [a, b];
        let batch = SinkBatch {
            time_ms: 1_357_008_430_000,
            partitions: &parts,
            versions: &[],
        };
        assert_eq!(
            format_batch(&batch, 10),
            "-------------------------------------------\nTime: 1357008430000 ms\n-------------------------------------------\n(to,2)\n(be,2)\n(or,1)\n\n"
        );
        assert!(format_batch(&batch, 2).ends_with("(be,2)\n...\n\n"));
        let versions = [("wordcount".to_string(), "3b29bf678eee".to_string())];
        let with_lineage = SinkBatch {
            versions: &versions,
            ..batch
        };
        assert!(
            format_batch(&with_lineage, 1)
                .contains("\nTime: 1357008430000 ms  [wordcount@3b29bf678eee]\n")
        );
    }

    struct ClosedPipe;

    impl Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_stdout_is_not_a_failed_batch() {
        let mut sink = PrintSink::to(10, Box::new(ClosedPipe));
        let batch = SinkBatch {
            time_ms: 1,
            partitions: &[],
            versions: &[],
        };
        assert!(sink.write(&batch).is_ok());
        assert!(sink.closed);
        assert!(sink.write(&batch).is_ok());
    }
}
