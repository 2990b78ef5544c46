//! Running totals that live across batches: Spark's classic `updateStateByKey` word
//! count. With `wordcount::split_words` before it, every batch prints each word's count
//! since the stream started. The state is kept by sluice, not by the plugin.

use sluice_sdk::update_state;

/// Adds this batch's counts of a key to its running total.
#[update_state]
pub fn running_total(_word: &str, counts: Vec<u64>, total: Option<u64>) -> Option<u64> {
    Some(total.unwrap_or(0) + counts.iter().sum::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_to_the_running_total() {
        assert_eq!(running_total("to", vec![1, 1], None), Some(2));
        assert_eq!(running_total("to", vec![], Some(2)), Some(2));
        assert_eq!(running_total("to", vec![3], Some(2)), Some(5));
    }
}
