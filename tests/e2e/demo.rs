//! `sluice demo`, the README's first command, with a short run.

use crate::support::*;

#[test]
fn the_demo_counts_generated_words_and_prints_every_batch() {
    let done = Sluice::start(&["demo", "--seconds", "2", "--rate", "20000"]).finish();
    done.expect_code(0);
    let batches = done.printed_batches();
    assert!(batches.len() >= 2, "{}", done.stdout);
    let counted: u64 = batches
        .iter()
        .flat_map(|(_, records)| records)
        .filter(|r| r.starts_with("(the,"))
        .count() as u64;
    assert!(
        counted >= 1,
        "the most common word shows in the printed heads:\n{}",
        done.stdout
    );
    assert!(done.stderr.contains("40000 records in"), "{}", done.stderr);
}
