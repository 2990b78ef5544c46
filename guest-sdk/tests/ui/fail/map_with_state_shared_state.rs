use sluice_sdk::{State, map_with_state};

#[map_with_state]
fn seen(word: &str, value: Option<u64>, count: &State<u64>) -> u64 {
    let _ = (word, value);
    count.get().copied().unwrap_or(0)
}

fn main() {}
