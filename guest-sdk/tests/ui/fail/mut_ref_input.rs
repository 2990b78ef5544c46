use sluice_sdk::map;

#[map]
fn shout(line: &mut String) -> usize {
    line.make_ascii_uppercase();
    line.len()
}

fn main() {}
