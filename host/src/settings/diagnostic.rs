//! Problems found in a pipeline file, each with the file, line, column, key and a hint,
//! reported all at once rather than one per run.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A 1-based line and column in a pipeline file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

/// Turns byte offsets into lines and columns.
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    /// Indexes `text`.
    pub fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { text, starts }
    }

    /// The location of the start of `span`, or of the file's start without one.
    pub fn locate(&self, span: Option<Range<usize>>) -> Location {
        let Some(span) = span else {
            return Location { line: 1, column: 1 };
        };
        let line = self.starts.partition_point(|&s| s <= span.start);
        let start = self.starts[line - 1];
        let column = self.text[start..span.start.min(self.text.len())]
            .chars()
            .count()
            + 1;
        Location { line, column }
    }
}

/// One problem in a pipeline file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where it is.
    pub at: Location,
    /// The dotted key it concerns (`stages.counts.op`), empty for the whole file.
    pub key: String,
    /// What is wrong, as a lowercase fragment.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

/// Every problem found in one pipeline file. This is the error `sluice validate` and
/// `sluice run` print for a bad file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics {
    /// The pipeline file.
    pub file: PathBuf,
    /// The problems, in file order.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty list for `file`.
    pub fn new(file: &Path) -> Self {
        Diagnostics {
            file: file.to_path_buf(),
            items: Vec::new(),
        }
    }

    /// Records a problem.
    pub fn push(
        &mut self,
        at: Location,
        key: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.items.push(Diagnostic {
            at,
            key: key.to_string(),
            message: message.into(),
            hint,
        });
    }

    /// Adds the problems of `other` (of the same file).
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// `Ok(value)` when nothing was found, else the problems sorted by position.
    pub fn into_result<T>(mut self, value: T) -> Result<T, Diagnostics> {
        if self.items.is_empty() {
            Ok(value)
        } else {
            self.items.sort_by_key(|d| (d.at.line, d.at.column));
            self.items.dedup();
            Err(self)
        }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        for d in &self.items {
            write!(f, "{file}:{}:{}: ", d.at.line, d.at.column)?;
            if !d.key.is_empty() {
                write!(f, "{}: ", d.key)?;
            }
            writeln!(f, "{}", d.message)?;
            if let Some(hint) = &d.hint {
                writeln!(f, "    hint: {hint}")?;
            }
        }
        let n = self.items.len();
        write!(f, "{n} problem{} in {file}", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Diagnostics {}

/// "did you mean ...?" for a misspelt name, if one of `known` is close enough.
pub fn did_you_mean<'a>(wrong: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    known
        .into_iter()
        // Optimal string alignment: insertions, deletions, substitutions and swaps of
        // neighbours each cost one, so `wrods` is one step from `words`.
        .map(|k| (strsim::osa_distance(wrong, k), k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(1))
        .min()
        .map(|(_, k)| format!("did you mean `{k}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_columns() {
        let index = LineIndex::new("a = 1\n[b]\n  c = \"é\" # x\n");
        assert_eq!(index.locate(Some(0..1)), Location { line: 1, column: 1 });
        assert_eq!(index.locate(Some(6..9)), Location { line: 2, column: 1 });
        assert_eq!(index.locate(Some(12..13)), Location { line: 3, column: 3 });
    }

    #[test]
    fn suggests_close_names_only() {
        let ops = ["map", "flat_map", "reduce_by_key"];
        assert_eq!(
            did_you_mean("reduce_by_kee", ops).as_deref(),
            Some("did you mean `reduce_by_key`?")
        );
        assert_eq!(
            did_you_mean("flatmap", ops).as_deref(),
            Some("did you mean `flat_map`?")
        );
        assert_eq!(did_you_mean("teleport", ops), None);
        assert_eq!(
            did_you_mean("wrods", ["lines", "words"]).as_deref(),
            Some("did you mean `words`?")
        );
    }

    #[test]
    fn renders_every_problem_with_file_line_and_hint() {
        let mut d = Diagnostics::new(Path::new("p.toml"));
        d.push(
            Location { line: 9, column: 6 },
            "stages.x.op",
            "unknown op `mapp`",
            Some("did you mean `map`?".into()),
        );
        d.push(
            Location { line: 2, column: 1 },
            "pipeline",
            "missing key `batch_interval`",
            None,
        );
        let err = d.into_result(()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "p.toml:2:1: pipeline: missing key `batch_interval`\n\
             p.toml:9:6: stages.x.op: unknown op `mapp`\n    hint: did you mean `map`?\n\
             2 problems in p.toml"
        );
    }
}
