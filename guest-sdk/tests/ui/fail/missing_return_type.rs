use sluice_sdk::map;

#[map]
fn print(line: &str) {
    println!("{line}");
}

fn main() {}
