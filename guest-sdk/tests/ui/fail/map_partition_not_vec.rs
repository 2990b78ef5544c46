use sluice_sdk::map_partition;

#[map_partition]
fn count(records: &[u64]) -> Option<usize> {
    Some(records.len())
}

fn main() {}
