//! Keyed state, windows, joins and transform through the binary, against reference
//! implementations written here, batch by batch, at 1, 2 and 3 partitions.
//!
//! The test drops one file of `key value` lines per batch into a directory source and
//! waits for the batch that read it. The batch timeline (every batch time, and which
//! file each non-empty batch read) is then read back from the log, so the references
//! compute exactly what each batch should have produced, however the machine's timing
//! went.

use crate::support::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const INTERVAL: u64 = 100;
const TIMEOUT: u64 = 300;

fn pipeline(partitions: usize) -> String {
    let mut text = format!(
        r#"
[pipeline]
batch_interval = "{INTERVAL}ms"
partitions = {partitions}

[plugins.keyed]
path = {wasm}

[sources.lines]
type = "directory"
path = "in"

[stages.pairs]
input = "lines"
op = "map"
function = "keyed::parse_pair"

[stages.values]
input = "pairs"
op = "map"
function = "keyed::value_of"

[stages.totals]
input = "pairs"
op = "update_state_by_key"
function = "keyed::running_total"

[stages.sessions]
input = "pairs"
op = "map_with_state"
function = "keyed::session"
timeout = "{TIMEOUT}ms"
state_snapshots = true

[stages.win]
input = "pairs"
op = "window"
window = "300ms"
slide = "200ms"

[stages.win_count]
input = "pairs"
op = "count_by_window"
window = "300ms"
slide = "200ms"

[stages.win_reduce]
input = "values"
op = "reduce_by_window"
function = "keyed::sum"
window = "300ms"
slide = "200ms"

[stages.rbkw]
input = "pairs"
op = "reduce_by_key_and_window"
function = "keyed::sum"
filter_function = "keyed::nonzero"
window = "400ms"
slide = "200ms"

[stages.rbkw_inc]
input = "pairs"
op = "reduce_by_key_and_window"
function = "keyed::sum"
inverse_function = "keyed::subtract"
filter_function = "keyed::nonzero"
window = "400ms"
slide = "200ms"

[stages.cbvw]
input = "lines"
op = "count_by_value_and_window"
window = "300ms"

[stages.left]
input = "pairs"
op = "filter"
function = "keyed::is_even"

[stages.right]
input = "pairs"
op = "filter"
function = "keyed::is_multiple_of_three"

[stages.stamped]
input = "pairs"
op = "transform"
function = "keyed::stamp"
"#,
        wasm = toml_path(&plugin_wasm("keyed"))
    );
    for join in JOINS {
        text.push_str(&format!(
            "\n[stages.{join}]\ninputs = [\"left\", \"right\"]\nop = \"{join}\"\n"
        ));
    }
    for (sink, input) in SINKS {
        text.push_str(&format!(
            "\n[sinks.{sink}]\ninput = \"{input}\"\ntype = \"files\"\npath = \"out/{sink}\"\n"
        ));
    }
    text
}

const JOINS: [&str; 5] = [
    "join",
    "left_outer_join",
    "right_outer_join",
    "full_outer_join",
    "cogroup",
];

/// Sink name, the node it writes.
const SINKS: [(&str, &str); 15] = [
    ("totals", "totals"),
    ("sessions", "sessions"),
    ("snapshots", "sessions.snapshots"),
    ("win", "win"),
    ("win_count", "win_count"),
    ("win_reduce", "win_reduce"),
    ("rbkw", "rbkw"),
    ("rbkw_inc", "rbkw_inc"),
    ("cbvw", "cbvw"),
    ("stamped", "stamped"),
    ("join", "join"),
    ("left_outer_join", "left_outer_join"),
    ("right_outer_join", "right_outer_join"),
    ("full_outer_join", "full_outer_join"),
    ("cogroup", "cogroup"),
];

/// One batch as it happened: its time and the lines it read.
struct Batch {
    time: u64,
    lines: Vec<String>,
}

impl Batch {
    fn pairs(&self) -> Vec<(String, i64)> {
        self.lines
            .iter()
            .map(|l| {
                let (k, v) = l.split_once(' ').unwrap();
                (k.to_string(), v.parse().unwrap())
            })
            .collect()
    }
}

/// Files of `key value` lines: keys drift from one group to another over time so that
/// sessions go idle and time out.
fn files(seed: u64) -> Vec<Vec<String>> {
    let mut state = seed;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    (0..14)
        .map(|f| {
            let lines = 1 + next(20);
            let keys = if f < 7 { 0..5 } else { 3..8 };
            (0..lines)
                .map(|_| {
                    format!(
                        "k{} {}",
                        keys.start + next(keys.end - keys.start),
                        1 + next(9)
                    )
                })
                .collect()
        })
        .collect()
}

/// Runs the pipeline over `files`, one per batch, and returns every batch in order.
fn run(dir: &TempDir, partitions: usize, files: &[Vec<String>]) -> Vec<Batch> {
    let incoming = dir.path().join("in");
    std::fs::create_dir(&incoming).unwrap();
    let pipeline = dir.write("stateful.toml", &pipeline(partitions));
    let mut sluice = Sluice::start(&["run", pipeline.to_str().unwrap()]);
    sluice.wait_for_event("pipeline_started");
    for (i, lines) in files.iter().enumerate() {
        let staged = dir.path().join(format!("f{i}"));
        std::fs::write(
            &staged,
            lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap();
        std::fs::rename(&staged, incoming.join(format!("f{i:02}.txt"))).unwrap();
        assert_eq!(sluice.wait_for_nonempty_batch(), lines.len() as u64);
    }
    // Let windows slide past the last data and idle sessions time out.
    let last = batch_lines(&sluice.log_so_far()).last().unwrap().0;
    sluice.wait_for_event_where("batch_completed", &|e| {
        e["batch"]
            .as_u64()
            .is_some_and(|t| t >= last + 6 * INTERVAL)
    });
    sluice.signal("INT");
    let done = sluice.finish();
    done.expect_code(0);
    let mut remaining = files.iter();
    batch_lines(&done.stderr)
        .into_iter()
        .map(|(time, n)| {
            let lines = if n > 0 {
                remaining
                    .next()
                    .expect("more non-empty batches than files")
                    .clone()
            } else {
                Vec::new()
            };
            assert_eq!(lines.len() as u64, n, "batch {time} read one whole file");
            Batch { time, lines }
        })
        .collect()
}

fn parse_batch_line(line: &str) -> Option<(u64, u64)> {
    let rest = &line[line.find(" batch ")? + 7..];
    let (time, rest) = rest.split_once(": ")?;
    Some((
        time.parse().ok()?,
        rest.split_once(" records in")?.0.parse().ok()?,
    ))
}

fn batch_lines(log: &str) -> Vec<(u64, u64)> {
    assert!(!log.contains(" failed:"), "a batch failed:\n{log}");
    log.lines().filter_map(parse_batch_line).collect()
}

/// What a files sink wrote for the batch at `time`: each record's JSON, sorted; `None`
/// when it wrote no directory for that time.
fn written(out: &Path, sink: &str, time: u64) -> Option<Vec<String>> {
    let dir = out.join(sink).join(format!("{sink}-{time}"));
    if !dir.exists() {
        return None;
    }
    let mut records = Vec::new();
    for part in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
        if part.path().extension().is_some_and(|e| e == "jsonl") {
            // Through `Value`, so that object keys compare in one order.
            let text = std::fs::read_to_string(part.path()).unwrap();
            records.extend(
                text.lines()
                    .map(|l| serde_json::from_str::<Value>(l).unwrap().to_string()),
            );
        }
    }
    records.sort();
    Some(records)
}

fn sorted(values: Vec<Value>) -> Vec<String> {
    let mut out: Vec<String> = values.iter().map(Value::to_string).collect();
    out.sort();
    out
}

/// The references: what each sink must hold for each batch (`None`: nothing).
/// Per sink, per batch time, the records expected (sorted JSON), or `None` for none.
type Expected = BTreeMap<&'static str, Vec<(u64, Option<Vec<String>>)>>;

fn expected(batches: &[Batch]) -> Expected {
    let mut expected = Expected::new();
    let mut put = |sink: &'static str, time: u64, values: Option<Vec<Value>>| {
        expected
            .entry(sink)
            .or_default()
            .push((time, values.map(sorted)));
    };
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    // key -> (count, total, last, touched)
    let mut sessions: BTreeMap<String, (i64, i64, i64, u64)> = BTreeMap::new();
    for (b, batch) in batches.iter().enumerate() {
        let t = batch.time;
        let pairs = batch.pairs();

        // update_state_by_key: every key with state or values, every batch.
        let mut sums: BTreeMap<String, i64> = BTreeMap::new();
        for (k, v) in &pairs {
            *sums.entry(k.clone()).or_default() += v;
        }
        let keys: BTreeSet<String> = totals.keys().chain(sums.keys()).cloned().collect();
        for k in keys {
            let total = totals.get(&k).copied().unwrap_or(0) + sums.get(&k).copied().unwrap_or(0);
            if total % 7 == 0 {
                totals.remove(&k);
            } else {
                totals.insert(k, total);
            }
        }
        put(
            "totals",
            t,
            Some(totals.iter().map(|(k, v)| json!([k, v])).collect()),
        );

        // map_with_state: keys idle for the timeout first get a last call.
        let with_data: BTreeSet<&String> = pairs.iter().map(|(k, _)| k).collect();
        let mut mapped = Vec::new();
        let timed_out: Vec<String> = sessions
            .iter()
            .filter(|(k, s)| s.3 + TIMEOUT <= t && !with_data.contains(k))
            .map(|(k, _)| k.clone())
            .collect();
        for k in timed_out {
            let (_, total, _, _) = sessions.remove(&k).unwrap();
            mapped.push(json!([k, -1, total]));
        }
        for (k, v) in &pairs {
            let (count, total, _, _) = sessions.get(k).copied().unwrap_or((0, 0, 0, 0));
            let (count, total) = (count + 1, total + v);
            mapped.push(json!([k, count, total]));
            if count == 5 {
                sessions.remove(k);
            } else {
                sessions.insert(k.clone(), (count, total, *v, t));
            }
        }
        put("sessions", t, Some(mapped));
        put(
            "snapshots",
            t,
            Some(
                sessions
                    .iter()
                    .map(|(k, s)| json!([k, {"count": s.0, "total": s.1, "last": s.2}]))
                    .collect(),
            ),
        );

        // Windows over (t - length, t], at multiples of the slide only.
        let window = |length: u64| batches[..=b].iter().filter(move |w| w.time + length > t);
        let at_slide = |slide: u64| t % slide == 0;
        let in_window = |length: u64| window(length).flat_map(Batch::pairs).collect::<Vec<_>>();
        let when = |slide: u64, values: Vec<Value>| at_slide(slide).then_some(values);
        put(
            "win",
            t,
            when(
                200,
                in_window(300).iter().map(|(k, v)| json!([k, v])).collect(),
            ),
        );
        put("win_count", t, when(200, vec![json!(in_window(300).len())]));
        let values: Vec<i64> = in_window(300).iter().map(|p| p.1).collect();
        put(
            "win_reduce",
            t,
            when(
                200,
                if values.is_empty() {
                    vec![]
                } else {
                    vec![json!(values.iter().sum::<i64>())]
                },
            ),
        );
        let mut per_key: BTreeMap<String, i64> = BTreeMap::new();
        for (k, v) in in_window(400) {
            *per_key.entry(k).or_default() += v;
        }
        let per_key: Vec<Value> = per_key
            .iter()
            .filter(|(_, v)| **v != 0)
            .map(|(k, v)| json!([k, v]))
            .collect();
        put("rbkw", t, when(200, per_key.clone()));
        put("rbkw_inc", t, when(200, per_key));
        let mut lines: BTreeMap<&String, u64> = BTreeMap::new();
        for line in window(300).flat_map(|w| &w.lines) {
            *lines.entry(line).or_default() += 1;
        }
        put(
            "cbvw",
            t,
            when(100, lines.iter().map(|(l, n)| json!([l, n])).collect()),
        );

        put(
            "stamped",
            t,
            Some(pairs.iter().map(|(k, v)| json!([k, v, t])).collect()),
        );

        // Joins of the even values with the multiples of three, per batch.
        let left: Vec<&(String, i64)> = pairs.iter().filter(|p| p.1 % 2 == 0).collect();
        let right: Vec<&(String, i64)> = pairs.iter().filter(|p| p.1 % 3 == 0).collect();
        let values_of = |side: &[&(String, i64)], k: &str| {
            side.iter()
                .filter(|p| p.0 == k)
                .map(|p| p.1)
                .collect::<Vec<_>>()
        };
        let left_keys: BTreeSet<&str> = left.iter().map(|p| p.0.as_str()).collect();
        let right_keys: BTreeSet<&str> = right.iter().map(|p| p.0.as_str()).collect();
        let (mut inner, mut left_only, mut right_only, mut groups) =
            (vec![], vec![], vec![], vec![]);
        for (k, lv) in left.iter().map(|p| (p.0.as_str(), p.1)) {
            for rv in values_of(&right, k) {
                inner.push(json!([k, [lv, rv]]));
            }
            if !right_keys.contains(k) {
                left_only.push(json!([k, [lv, null]]));
            }
        }
        for (k, rv) in right.iter().map(|p| (p.0.as_str(), p.1)) {
            if !left_keys.contains(k) {
                right_only.push(json!([k, [null, rv]]));
            }
        }
        for k in left_keys.union(&right_keys) {
            groups.push(json!([k, [values_of(&left, k), values_of(&right, k)]]));
        }
        put("join", t, Some(inner.clone()));
        put(
            "left_outer_join",
            t,
            Some([inner.clone(), left_only.clone()].concat()),
        );
        put(
            "right_outer_join",
            t,
            Some([inner.clone(), right_only.clone()].concat()),
        );
        put(
            "full_outer_join",
            t,
            Some([inner, left_only, right_only].concat()),
        );
        put("cogroup", t, Some(groups));
    }
    expected
}

fn check(partitions: usize, seed: u64) {
    let dir = TempDir::new(&format!("stateful-{partitions}"));
    let files = files(seed);
    let batches = run(&dir, partitions, &files);
    assert!(batches.len() >= files.len() + 6);
    let out = dir.path().join("out");
    let expected = expected(&batches);
    // The data must exercise what is tested: timeouts, sessions ending, states removed,
    // windows at slides and between them.
    let all = |sink: &str| {
        expected[sink]
            .iter()
            .flat_map(|(_, v)| v.iter().flatten())
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(
        all("sessions").iter().any(|r| r.contains(",-1,")),
        "no session timed out"
    );
    assert!(
        all("sessions").iter().any(|r| r.contains(",5,")),
        "no session ended"
    );
    assert!(expected["win"].iter().any(|(_, v)| v.is_none()) && all("join").len() > 3);
    let mut checked = 0;
    for (sink, per_batch) in expected {
        for (time, want) in per_batch {
            let got = written(&out, sink, time);
            assert_eq!(
                got, want,
                "sink `{sink}`, batch {time}, at {partitions} partitions"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, SINKS.len() * batches.len());
}

#[test]
fn stateful_operators_match_the_reference_at_1_partition() {
    check(1, 1);
}

#[test]
fn stateful_operators_match_the_reference_at_2_partitions() {
    check(2, 2);
}

#[test]
fn stateful_operators_match_the_reference_at_3_partitions() {
    check(3, 3);
}
