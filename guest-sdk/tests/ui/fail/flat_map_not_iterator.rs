use sluice_sdk::flat_map;

#[flat_map]
fn len(line: &str) -> usize {
    line.len()
}

fn main() {}
