use sluice_sdk::update_state;

#[update_state]
fn total(word: &str, counts: Vec<u64>) -> Option<u64> {
    let _ = word;
    Some(counts.iter().sum())
}

fn main() {}
