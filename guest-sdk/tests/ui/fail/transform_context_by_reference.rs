use sluice_sdk::{BatchContext, transform};

#[transform]
fn stamp(lines: Vec<String>, context: &BatchContext) -> Vec<(i64, String)> {
    lines
        .into_iter()
        .map(|line| (context.batch_time_ms, line))
        .collect()
}

fn main() {}
