// Named lifetimes, borrowed struct records, visibility and raw identifiers.

use serde::{Deserialize, Serialize};
use sluice_sdk::{filter, flat_map, map, map_partition, reduce};

// A record that borrows its text from the input buffer.
#[derive(Serialize, Deserialize)]
pub struct Line<'a> {
    #[serde(borrow)]
    pub text: &'a str,
    pub number: u32,
}

#[flat_map]
pub fn words<'a>(line: &'a str) -> Vec<&'a str> {
    line.split_whitespace().collect()
}

#[map]
pub fn text<'a>(line: Line<'a>) -> &'a str {
    line.text
}

#[filter]
pub fn is_numbered<'a>(line: &'a Line<'a>) -> bool {
    line.number > 0
}

#[map_partition]
pub fn longest<'a>(lines: Vec<&'a str>) -> Option<&'a str> {
    lines.into_iter().max_by_key(|line| line.len())
}

#[map]
pub fn r#type(value: (String, u64)) -> String {
    value.0
}

#[reduce]
pub fn concat(a: String, b: String) -> String {
    a + &b
}

fn main() {
    assert_eq!(words("a b"), ["a", "b"]);
    let line = Line {
        text: "x",
        number: 1,
    };
    assert!(is_numbered(&line));
    assert_eq!(text(line), "x");
    assert_eq!(longest(vec!["a", "bc"]), Some("bc"));
    assert_eq!(r#type(("t".into(), 1)), "t");
    assert_eq!(concat("a".into(), "b".into()), "ab");
}
