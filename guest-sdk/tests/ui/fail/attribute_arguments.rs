use sluice_sdk::map;

#[map(fast)]
fn length(line: &str) -> usize {
    line.len()
}

fn main() {}
