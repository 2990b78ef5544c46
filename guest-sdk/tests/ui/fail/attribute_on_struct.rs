use sluice_sdk::map;

#[map]
struct Length(usize);

fn main() {
    let _ = Length(0).0;
}
