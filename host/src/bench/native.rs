//! The honest yardstick: each workload's logic as plain Rust on one thread, with no
//! wasm, no engine and no encoding. What sluice adds over these is what the plugin
//! boundary, the batching and the shuffle cost.
//!
//! The keyed workloads hand each batch's output to an [`Emit`]: in memory it is only
//! looked at ([`Discard`]); end to end it is written and synced as sluice's files sink
//! would (`end_to_end::native`).

use super::data::Dataset;
use std::collections::{HashMap, VecDeque};
use std::hint::black_box;

/// Where a keyed workload's output goes, batch by batch.
pub trait Emit {
    /// Batch `index`'s output pairs.
    fn batch(&mut self, index: usize, pairs: &mut dyn Iterator<Item = (&str, u64)>);
}

/// Output that is looked at and dropped (the in-memory baselines).
pub struct Discard;

impl Emit for Discard {
    fn batch(&mut self, _: usize, pairs: &mut dyn Iterator<Item = (&str, u64)>) {
        black_box(pairs.count());
    }
}

/// A keyed workload over batches of lines.
pub type Keyed = fn(&[Vec<&str>], &mut dyn Emit);

/// The lines of `data`, borrowed, batch by batch.
pub fn borrowed(data: &Dataset) -> Vec<Vec<&str>> {
    data.batches
        .iter()
        .map(|lines| lines.iter().map(String::as_str).collect())
        .collect()
}

fn count_words<'a>(lines: &[&'a str]) -> HashMap<&'a str, u64> {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for line in lines {
        for word in line.split_whitespace() {
            *counts.entry(word).or_insert(0) += 1;
        }
    }
    counts
}

/// Word counts per batch.
pub fn word_count(batches: &[Vec<&str>], emit: &mut dyn Emit) {
    for (b, lines) in batches.iter().enumerate() {
        let counts = count_words(lines);
        emit.batch(b, &mut counts.iter().map(|(w, n)| (*w, *n)));
    }
}

/// Running totals across batches, every key visited every batch (update_state_by_key).
pub fn stateful_word_count(batches: &[Vec<&str>], emit: &mut dyn Emit) {
    let mut totals: HashMap<String, u64> = HashMap::new();
    for (b, lines) in batches.iter().enumerate() {
        for (word, n) in count_words(lines) {
            match totals.get_mut(word) {
                Some(total) => *total += n,
                None => {
                    totals.insert(word.to_string(), n);
                }
            }
        }
        // Every live key is output every batch.
        emit.batch(b, &mut totals.iter().map(|(w, n)| (w.as_str(), *n)));
    }
}

/// Counts per word over a sliding window of `length` batches every `slide` batches,
/// kept incrementally: the previous window plus the batches that entered minus those
/// that left, dropping words back at zero (reduce_by_key_and_window with an inverse).
pub fn window_count(batches: &[Vec<&str>], length: usize, slide: usize, emit: &mut dyn Emit) {
    let mut partials: VecDeque<(usize, HashMap<&str, u64>)> = VecDeque::new();
    let mut window: HashMap<&str, u64> = HashMap::new();
    let (mut added, mut removed) = (0, 0);
    for (b, lines) in batches.iter().enumerate() {
        partials.push_back((b, count_words(lines)));
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
        emit.batch(b, &mut window.iter().map(|(w, n)| (*w, *n)));
    }
}

/// The sliding window of the in-memory bench: 6 batches long, every 2.
pub fn window_6_2(batches: &[Vec<&str>], emit: &mut dyn Emit) {
    window_count(batches, 6, 2, emit)
}

#[derive(serde::Deserialize)]
struct Request<'a> {
    service: &'a str,
    status: u16,
}

/// Parse JSON request lines, keep server errors, key them by service.
pub fn parse_filter_map(batches: &[Vec<&str>], _: &mut dyn Emit) {
    for lines in batches {
        let out: Vec<(String, u64)> = lines
            .iter()
            .filter_map(|l| serde_json::from_str::<Request<'_>>(l).ok())
            .filter(|r| (500..600).contains(&r.status))
            .map(|r| (r.service.to_string(), 1))
            .collect();
        black_box(&out);
    }
}
