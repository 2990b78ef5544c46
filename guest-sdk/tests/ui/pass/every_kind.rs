// Every kind of plugin function, in the shapes a plugin author writes them.

use serde::{Deserialize, Serialize};
use sluice_sdk::{
    BatchContext, State, filter, flat_map, inverse_reduce, map, map_partition, map_with_state,
    reduce, transform, update_state,
};
use std::num::ParseIntError;

#[derive(Debug, Serialize, Deserialize)]
struct Request {
    path: String,
    status: u16,
}

// A borrowed `&str` input, decoded without copying.
#[map]
fn length(line: &str) -> usize {
    line.len()
}

// A borrowed `&[u8]` input.
#[map]
fn first_byte(bytes: &[u8]) -> Option<u8> {
    bytes.first().copied()
}

// A struct input taken by value.
#[map]
fn status_pair(request: Request) -> (u16, u64) {
    (request.status, 1)
}

// A fallible map: an `Err` fails the partition with its message.
#[map]
fn parse_count(text: &str) -> Result<u64, ParseIntError> {
    text.trim().parse()
}

// A flat_map whose items borrow from the input.
#[flat_map]
fn split_words(line: &str) -> impl Iterator<Item = (&str, u64)> {
    line.split_whitespace().map(|word| (word, 1))
}

// A fallible flat_map returning a collection.
#[flat_map]
fn parse_all(line: &str) -> Result<Vec<u32>, String> {
    line.split(',')
        .map(|n| n.parse().map_err(|e| format!("{n:?}: {e}")))
        .collect()
}

// A named lifetime tying the output to the input.
#[flat_map]
fn fields<'a>(line: &'a str) -> Vec<&'a str> {
    line.split(',').collect()
}

// A struct input by reference: decoded owned, then lent.
#[filter]
fn is_page_view(request: &Request) -> bool {
    request.path != "/healthz"
}

// A filter over borrowed text.
#[filter]
fn not_blank(line: &str) -> bool {
    !line.trim().is_empty()
}

// The whole partition at once.
#[map_partition]
fn distinct(words: Vec<&str>) -> impl IntoIterator<Item = String> {
    let mut words: Vec<String> = words.into_iter().map(str::to_owned).collect();
    words.sort();
    words.dedup();
    words
}

// A fallible map_partition.
#[map_partition]
fn total(counts: Vec<u64>) -> Result<Option<u64>, String> {
    counts
        .into_iter()
        .try_fold(0u64, |acc, n| acc.checked_add(n))
        .map(Some)
        .ok_or_else(|| "overflow".to_string())
}

// The whole partition with the batch's time and partition.
#[transform]
fn stamp(lines: Vec<&str>, context: BatchContext) -> Vec<(i64, String)> {
    lines
        .into_iter()
        .map(|line| (context.batch_time_ms, line.to_uppercase()))
        .collect()
}

// An associative combine.
#[reduce]
fn sum(a: u64, b: u64) -> u64 {
    a + b
}

// A combine over a struct.
#[reduce]
fn busiest(a: Request, b: Request) -> Request {
    if b.status > a.status { b } else { a }
}

// Its inverse, for windows that take old batches back out.
#[inverse_reduce]
fn subtract(a: u64, b: u64) -> u64 {
    a - b
}

// A running total per key.
#[update_state]
fn running_total(word: &str, counts: Vec<u64>, total: Option<u64>) -> Option<u64> {
    let _ = word;
    Some(total.unwrap_or(0) + counts.iter().sum::<u64>())
}

// Each value numbered with how many the key has seen.
#[map_with_state]
fn number(word: &str, value: Option<u64>, seen: &mut State<u64>) -> (String, u64) {
    let n = seen.get().copied().unwrap_or(0) + value.map_or(0, |_| 1);
    if !seen.is_timing_out() {
        seen.update(n);
    }
    (word.to_string(), n)
}

fn main() {
    // The attributes leave the functions callable as written.
    let request = Request {
        path: "/".into(),
        status: 200,
    };
    assert_eq!(length("abc"), 3);
    assert_eq!(first_byte(b"x"), Some(b'x'));
    assert!(is_page_view(&request));
    assert_eq!(status_pair(request), (200, 1));
    assert_eq!(parse_count(" 7 "), Ok(7));
    assert_eq!(split_words("a b").count(), 2);
    assert_eq!(parse_all("1,2"), Ok(vec![1, 2]));
    assert_eq!(fields("a,b"), ["a", "b"]);
    assert!(not_blank("x"));
    assert_eq!(distinct(vec!["b", "a", "b"]).into_iter().count(), 2);
    assert_eq!(total(vec![1, 2]), Ok(Some(3)));
    assert_eq!(sum(2, 3), 5);
    assert_eq!(subtract(5, 3), 2);
    let context = BatchContext {
        batch_time_ms: 7,
        partition: 0,
    };
    assert_eq!(stamp(vec!["a"], context), [(7, "A".to_string())]);
    assert_eq!(running_total("a", vec![1, 2], Some(3)), Some(6));
    let mut seen = State::new(None);
    assert_eq!(number("a", Some(9), &mut seen), ("a".to_string(), 1));
    assert_eq!(seen.into_inner(), Some(1));
    let quiet = Request {
        path: "/a".into(),
        status: 200,
    };
    let loud = Request {
        path: "/b".into(),
        status: 500,
    };
    assert_eq!(busiest(quiet, loud).path, "/b");
}
