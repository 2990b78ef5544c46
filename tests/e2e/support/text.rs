//! Test input and reference results: random text, word counts computed in the test, and
//! readers for the files sink's output.

use super::files_sink::written_batches;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// `n` lines of 1 to 12 words drawn from a small vocabulary (so that words repeat and
/// counts are interesting), from a fixed seed.
pub fn random_lines(n: usize, seed: u64) -> Vec<String> {
    const WORDS: [&str; 24] = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
        "sierra", "tango", "uniform", "victor", "whiskey", "xray",
    ];
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|_| {
            let words = 1 + next() % 12;
            (0..words)
                .map(|_| WORDS[(next() % 24) as usize])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The reference word count of `lines`, as the word count plugin splits them.
pub fn count_words<S: AsRef<str>>(lines: &[S]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in lines {
        for word in line.as_ref().split_whitespace() {
            *counts.entry(word.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

/// Every `[key, value]` record in every complete batch directory under `dir`, with
/// the batch directory it came from.
pub fn files_sink_pairs(dir: &Path) -> Vec<(String, serde_json::Value, serde_json::Value)> {
    let mut pairs = Vec::new();
    for batch in written_batches(dir) {
        for value in batch.records() {
            let pair = value
                .as_array()
                .unwrap_or_else(|| panic!("{}: not a pair: {value}", batch.name));
            pairs.push((batch.name.clone(), pair[0].clone(), pair[1].clone()));
        }
    }
    pairs
}

/// Word counts summed over every batch a files sink wrote under `dir`.
pub fn word_counts_from_files(dir: &Path) -> BTreeMap<String, u64> {
    let mut totals = BTreeMap::new();
    for (_, word, count) in files_sink_pairs(dir) {
        *totals
            .entry(word.as_str().unwrap().to_string())
            .or_insert(0) += count.as_u64().unwrap();
    }
    totals
}

/// How many records each batch directory's part files hold, by partition index, summed
/// over batches: shows whether work was spread over partitions.
pub fn records_per_partition(dir: &Path) -> HashMap<usize, usize> {
    let mut per = HashMap::new();
    for batch in written_batches(dir) {
        for (index, records) in batch.partitions.iter().enumerate() {
            *per.entry(index).or_insert(0) += records.len();
        }
    }
    per
}
