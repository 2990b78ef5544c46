//! Test input and reference results: random text, word counts computed in the test, and
//! readers for the files sink's output.

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
    let Ok(entries) = std::fs::read_dir(dir) else {
        return pairs;
    };
    let mut batches: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    batches.sort();
    for batch in batches {
        // Complete batch directories only: not the hidden ones being written.
        let hidden = batch
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden || !batch.join("_SUCCESS").exists() {
            continue;
        }
        let name = batch.file_name().unwrap().to_string_lossy().into_owned();
        let mut parts: Vec<_> = std::fs::read_dir(&batch)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        parts.sort();
        for part in parts
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        {
            for line in std::fs::read_to_string(part).unwrap().lines() {
                let value: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{}: {e}: {line}", part.display()));
                let pair = value
                    .as_array()
                    .unwrap_or_else(|| panic!("not a pair: {line}"));
                pairs.push((name.clone(), pair[0].clone(), pair[1].clone()));
            }
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
    for batch in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        for part in std::fs::read_dir(batch.path())
            .unwrap()
            .filter_map(Result::ok)
        {
            let name = part.file_name().to_string_lossy().into_owned();
            if let Some(index) = name
                .strip_prefix("part-")
                .and_then(|n| n.strip_suffix(".jsonl"))
            {
                let lines = std::fs::read_to_string(part.path())
                    .unwrap()
                    .lines()
                    .count();
                *per.entry(index.parse().unwrap()).or_insert(0) += lines;
            }
        }
    }
    per
}
