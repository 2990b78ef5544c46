//! The classic streaming word count as a sluice plugin: `split_words` turns lines into
//! `(word, 1)` pairs and `sum` adds counts. A pipeline wires them as
//! `flat_map` then `reduce_by_key`.
//!
//! `combine = sum` lets sluice add up each partition's counts inside the plugin, in the
//! same call that splits the lines: a partition leaves as one pair per distinct word,
//! not one per word, which is most of a word count's cost.

use sluice_sdk::{flat_map, reduce};

/// Splits a line on whitespace into `(word, 1)` pairs. The words borrow from the
/// input buffer: no string is copied until the output is encoded.
#[flat_map(combine = sum)]
pub fn split_words(line: &str) -> impl Iterator<Item = (&str, u64)> {
    line.split_whitespace().map(|word| (word, 1))
}

/// Adds two counts.
#[reduce]
pub fn sum(a: u64, b: u64) -> u64 {
    a + b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_any_whitespace() {
        let words: Vec<_> = split_words("  to be\tor not to be ").collect();
        assert_eq!(
            words,
            [
                ("to", 1),
                ("be", 1),
                ("or", 1),
                ("not", 1),
                ("to", 1),
                ("be", 1)
            ]
        );
    }

    #[test]
    fn sums() {
        assert_eq!(sum(2, 3), 5);
    }
}
