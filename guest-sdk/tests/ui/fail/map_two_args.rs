use sluice_sdk::map;

#[map]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

fn main() {}
