use sluice_sdk::reduce;

#[reduce]
fn sum(a: u64, b: u32) -> u64 {
    a + u64::from(b)
}

fn main() {}
