use sluice_sdk::{State, map_with_state};

#[map_with_state]
fn seen(word: &str, value: Option<u64>, count: &mut State<u64>) -> Result<u64, String> {
    let _ = (word, value);
    count.get().copied().ok_or_else(|| "no count".to_string())
}

fn main() {}
