use sluice_sdk::transform;

#[transform]
fn shout(lines: Vec<&str>) -> Vec<String> {
    lines.into_iter().map(str::to_uppercase).collect()
}

fn main() {}
