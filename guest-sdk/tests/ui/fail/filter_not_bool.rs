use sluice_sdk::filter;

#[filter]
fn keep(line: &str) -> usize {
    line.len()
}

fn main() {}
