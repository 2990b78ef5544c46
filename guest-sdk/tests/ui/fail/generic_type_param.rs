use sluice_sdk::map;

#[map]
fn identity<T>(record: T) -> T {
    record
}

fn main() {}
