//! The honest yardstick: each workload's logic as plain Rust on one thread, with no
//! wasm, no engine and no encoding. What sluice adds over these is what the plugin
//! boundary, the batching and the shuffle cost.

use super::data::Dataset;
use std::collections::{HashMap, VecDeque};
use std::hint::black_box;

/// Word counts per batch.
pub fn word_count(data: &Dataset) {
    for lines in &data.batches {
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for line in lines {
            for word in line.split_whitespace() {
                *counts.entry(word).or_insert(0) += 1;
            }
        }
        black_box(&counts);
    }
}

/// Running totals across batches, every key visited every batch (update_state_by_key).
pub fn stateful_word_count(data: &Dataset) {
    let mut totals: HashMap<String, u64> = HashMap::new();
    for lines in &data.batches {
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for line in lines {
            for word in line.split_whitespace() {
                *counts.entry(word).or_insert(0) += 1;
            }
        }
        for (word, n) in &counts {
            match totals.get_mut(*word) {
                Some(total) => *total += n,
                None => {
                    totals.insert(word.to_string(), *n);
                }
            }
        }
        // Every live key is output every batch.
        let out: Vec<(&String, &u64)> = totals.iter().collect();
        black_box(&out);
    }
}

/// Counts per word over a sliding window of `length` batches every `slide` batches,
/// kept incrementally: the previous window plus the batches that entered minus those
/// that left, dropping words back at zero (reduce_by_key_and_window with an inverse).
pub fn window_count(data: &Dataset, length: usize, slide: usize) {
    let mut partials: VecDeque<(usize, HashMap<&str, u64>)> = VecDeque::new();
    let mut window: HashMap<&str, u64> = HashMap::new();
    let (mut added, mut removed) = (0, 0);
    for (b, lines) in data.batches.iter().enumerate() {
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for line in lines {
            for word in line.split_whitespace() {
                *counts.entry(word).or_insert(0) += 1;
            }
        }
        partials.push_back((b, counts));
        if (b + 1) % slide != 0 {
            continue;
        }
        for (_, counts) in partials.iter().filter(|(i, _)| *i >= added) {
            for (word, n) in counts {
                *window.entry(word).or_insert(0) += n;
            }
        }
        added = b + 1;
        let first = (b + 1).saturating_sub(length);
        for (_, counts) in partials.iter().filter(|(i, _)| *i >= removed && *i < first) {
            for (word, n) in counts {
                if let Some(v) = window.get_mut(word) {
                    *v -= n;
                }
            }
        }
        removed = first;
        window.retain(|_, v| *v > 0);
        partials.retain(|(i, _)| *i >= first);
        black_box(&window);
    }
}

#[derive(serde::Deserialize)]
struct Request<'a> {
    service: &'a str,
    status: u16,
}

/// Parse JSON request lines, keep server errors, key them by service.
pub fn parse_filter_map(data: &Dataset) {
    for lines in &data.batches {
        let out: Vec<(String, u64)> = lines
            .iter()
            .filter_map(|l| serde_json::from_str::<Request<'_>>(l).ok())
            .filter(|r| (500..600).contains(&r.status))
            .map(|r| (r.service.to_string(), 1))
            .collect();
        black_box(&out);
    }
}
