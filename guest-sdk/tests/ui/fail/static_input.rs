use sluice_sdk::map;

#[map]
fn keep(line: &'static str) -> &'static str {
    line
}

fn main() {}
