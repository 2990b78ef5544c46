use sluice_sdk::map;

#[map]
unsafe fn length(line: &str) -> usize {
    line.len()
}

fn main() {}
