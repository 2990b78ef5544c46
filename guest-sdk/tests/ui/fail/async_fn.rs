use sluice_sdk::map;

#[map]
async fn length(line: &str) -> usize {
    line.len()
}

fn main() {}
