use sluice_sdk::update_state;

#[update_state]
fn total(word: &str, counts: Vec<u64>, total: Option<u64>) -> u64 {
    let _ = word;
    total.unwrap_or(0) + counts.iter().sum::<u64>()
}

fn main() {}
