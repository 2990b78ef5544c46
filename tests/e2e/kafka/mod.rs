//! Kafka in and out, against a real Kafka-protocol broker (tansu, started by each test):
//! the word count example end to end, exactly-once input across `kill -9`, brokers that
//! are not there at the start or go away in the middle, and `max_rate`.

mod crash;
mod outage;
mod rate;
mod wordcount;

use crate::support::*;
use std::collections::BTreeMap;
use std::path::Path;

/// `count` keyed records (a user id, a line of words) from a fixed seed.
fn keyed_lines(count: usize, seed: u64) -> Vec<(String, String)> {
    random_lines(count, seed)
        .into_iter()
        .enumerate()
        .map(|(i, line)| (format!("user-{}", i % 997), line))
        .collect()
}

/// The values of `records`.
fn values(records: &[(String, String)]) -> Vec<String> {
    records.iter().map(|(_, v)| v.clone()).collect()
}

/// Every string record a files sink wrote under `dir`, over all batches.
fn written_lines(dir: &Path) -> Vec<String> {
    records_by_batch(dir)
        .into_values()
        .flatten()
        .map(|v| v.as_str().expect("a line").to_string())
        .collect()
}

/// Word counts summed over the messages of a Kafka sink topic (key: the word, value:
/// its count in one batch).
fn counts_from_topic(messages: &[(Option<String>, String)]) -> BTreeMap<String, u64> {
    let mut totals = BTreeMap::new();
    for (word, count) in messages {
        let word = word.clone().expect("every count is keyed by its word");
        *totals.entry(word).or_insert(0) += count.parse::<u64>().expect("a count");
    }
    totals
}
