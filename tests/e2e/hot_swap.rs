//! Hot swap through the binary: plugins replaced while data flows, state kept, failed
//! versions rolled back, invalid ones refused, and `sluice dev`'s edit loop.

use crate::support::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// `dir/NAME.wasm`, a copy of `wasm`: the file a watching run loads and a test replaces.
fn live_copy(dir: &TempDir, name: &str, wasm: &Path) -> std::path::PathBuf {
    let live = dir.path().join(format!("{name}.wasm"));
    std::fs::copy(wasm, &live).unwrap();
    live
}

/// A word count on `source` with the `tagged` plugin loaded from `wasm`.
fn tagged_pipeline(dir: &TempDir, wasm: &Path, source: &str, interval: &str) -> String {
    let path = dir.write(
        "tagged.toml",
        &format!(
            r#"
[pipeline]
batch_interval = "{interval}"
partitions = 2

[plugins.tagged]
path = {wasm}

[sources.lines]
{source}

[stages.words]
input = "lines"
op = "flat_map"
function = "tagged::split"

[stages.counts]
input = "words"
op = "reduce_by_key"
function = "tagged::sum"

[sinks.out]
input = "counts"
type = "files"
path = "out"
"#,
            wasm = toml_path(wasm)
        ),
    );
    path.to_str().unwrap().to_string()
}

/// Per batch directory: the version in its `_SUCCESS` and its records' `(n, v)`.
fn tagged_batches(out: &Path) -> BTreeMap<String, (String, Vec<(u64, String)>)> {
    written_batches(out)
        .into_iter()
        .map(|batch| {
            let version = batch.success["plugins"]["tagged"]
                .as_str()
                .unwrap()
                .to_string();
            let tagged = batch
                .records()
                .map(|r| {
                    (
                        r[1]["n"].as_u64().unwrap(),
                        r[1]["v"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (batch.name, (version, tagged))
        })
        .collect()
}

#[test]
fn twenty_swaps_under_load_lose_and_repeat_nothing() {
    let dir = TempDir::new("swap20");
    let (a, b) = (
        plugin_variant("tagged", ""),
        plugin_variant("tagged", "times10"),
    );
    let (hash_a, hash_b) = (version_of(&a), version_of(&b));
    let live = live_copy(&dir, "tagged", &a);
    let pipeline = tagged_pipeline(
        &dir,
        &live,
        "type = \"generator\"\nrate = 5000\nwords_per_line = 10",
        "200ms",
    );
    let mut sluice = Sluice::start(&["run", "--watch", &pipeline]);
    sluice.wait_for_nonempty_batch();
    for i in 0..20 {
        let (variant, hash) = if i % 2 == 0 {
            (&b, &hash_b)
        } else {
            (&a, &hash_a)
        };
        replace_by_rename(variant, &live);
        sluice.wait_for_events("version_swapped", &|e| e["to"] == hash.as_str(), i / 2 + 1);
        sluice.wait_for_batch(&|e| {
            e["plugins"]
                .as_str()
                .is_some_and(|p| p.contains(&format!("tagged@{hash}")))
        });
    }
    sluice.signal("INT");
    let done = sluice.finish();
    done.expect_code(0);

    // Every batch comes entirely from one version, and says which.
    let batches = tagged_batches(&dir.path().join("out"));
    let mut words = 0;
    for (batch, (version, counts)) in &batches {
        let tag = if *version == hash_a { "a" } else { "b" };
        assert!(
            *version == hash_a || *version == hash_b,
            "{batch}: unknown version {version}"
        );
        for (n, v) in counts {
            assert_eq!(v, tag, "{batch} mixes versions");
            words += n / if tag == "a" { 1 } else { 10 };
        }
    }
    // Nothing lost, nothing counted twice: every generated word, once.
    let lines: u64 = done.stderr.lines().filter_map(records_in).sum();
    assert_eq!(words, lines * 10);
    let versions: Vec<&String> = batches.values().map(|(v, _)| v).collect();
    assert!(
        versions.windows(2).filter(|w| w[0] != w[1]).count() >= 19,
        "the version alternated"
    );
    // A prepared version takes over at the next batch boundary: after its "ready" line,
    // at most the batch already running finishes on the old version.
    let log: Vec<&str> = done.stderr.lines().collect();
    for (i, line) in log
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("plugin `tagged`: version ") && l.contains(" ready "))
    {
        let hash = line
            .split("version ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        let later: Vec<&&str> = log[i..]
            .iter()
            .filter(|l| records_in(l).is_some())
            .take(2)
            .collect();
        assert!(
            later.iter().any(|l| l.contains(&format!("tagged@{hash}"))),
            "version {hash} waited more than a batch:\n{later:?}"
        );
    }
}

fn records_in(line: &str) -> Option<u64> {
    let rest = &line[line.find(" batch ")? + 7..];
    rest.split_once(": ")?
        .1
        .split_once(" records in")?
        .0
        .parse()
        .ok()
}

#[test]
fn a_version_that_fails_its_first_batch_is_rolled_back_and_the_batch_rerun() {
    let dir = TempDir::new("rollback");
    let (good, broken) = (
        plugin_variant("tagged", ""),
        plugin_variant("tagged", "broken"),
    );
    let live = live_copy(&dir, "tagged", &good);
    let pipeline = tagged_pipeline(&dir, &live, "type = \"stdin\"", "100ms");
    let (mut sluice, mut stdin) = Sluice::start_with_stdin(&["run", "--watch", &pipeline]);
    let chunks = [
        random_lines(500, 1),
        random_lines(500, 2),
        random_lines(500, 3),
    ];
    let feed = |stdin: &mut std::process::ChildStdin, lines: &[String]| {
        stdin
            .write_all(
                lines
                    .iter()
                    .map(|l| format!("{l}\n"))
                    .collect::<String>()
                    .as_bytes(),
            )
            .unwrap();
        stdin.flush().unwrap();
    };
    feed(&mut stdin, &chunks[0]);
    sluice.wait_for_nonempty_batch();
    replace_by_rename(&broken, &live);
    let ready =
        sluice.wait_for_event_where("version_ready", &|e| e["version"] == version_of(&broken));
    assert_eq!(ready["replaces"], version_of(&good), "{ready}");
    feed(&mut stdin, &chunks[1]);
    let rolled_back = sluice.wait_for_event("version_rolled_back");
    assert!(
        rolled_back["message"]
            .as_str()
            .unwrap()
            .contains("this version is broken on purpose"),
        "{rolled_back}"
    );
    sluice.wait_for_nonempty_batch();
    // The same broken bytes again: refused without another try.
    replace_by_rename(&broken, &live);
    sluice.wait_for_log("was rolled back before and stays out");
    feed(&mut stdin, &chunks[2]);
    sluice.wait_for_nonempty_batch();
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(0);
    assert!(
        !done.stderr.contains(" failed: "),
        "no batch failed:\n{}",
        done.stderr
    );
    // The output equals a run with no swap.
    let all: Vec<&String> = chunks.iter().flatten().collect();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for (_, word, tagged) in files_sink_pairs(&dir.path().join("out")) {
        assert_eq!(tagged["v"], "a");
        *counts
            .entry(word.as_str().unwrap().to_string())
            .or_default() += tagged["n"].as_u64().unwrap();
    }
    assert_eq!(counts, count_words(&all));
}

#[test]
fn a_version_that_fails_during_its_probation_is_rolled_back_after_good_batches() {
    let dir = TempDir::new("probation");
    let (good, fragile) = (
        plugin_variant("tagged", ""),
        plugin_variant("tagged", "times10,fragile"),
    );
    let live = live_copy(&dir, "tagged", &good);
    let pipeline = tagged_pipeline(&dir, &live, "type = \"stdin\"", "100ms");
    let (mut sluice, mut stdin) = Sluice::start_with_stdin(&["run", "--watch", &pipeline]);
    let mut feed = |line: &str| {
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    };
    feed("one two");
    sluice.wait_for_nonempty_batch();
    replace_by_rename(&fragile, &live);
    sluice.wait_for_event_where("version_ready", &|e| e["version"] == version_of(&fragile));
    // Two good batches on the new version: it is still on probation (three by default).
    feed("three");
    let on_fragile = |e: &serde_json::Value| {
        e["plugins"]
            .as_str()
            .is_some_and(|p| p.contains(&version_of(&fragile)))
            && e["records_in"] == 1
    };
    sluice.wait_for_batch(&on_fragile);
    feed("four");
    sluice.wait_for_batch(&on_fragile);
    feed("a fragile line");
    let rolled_back = sluice.wait_for_event("version_rolled_back");
    assert!(
        rolled_back["message"]
            .as_str()
            .unwrap()
            .contains("cannot take"),
        "{rolled_back}"
    );
    sluice.wait_for_nonempty_batch();
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(0);
    // Nothing went to the dead letters: the batch ran again on the version before.
    assert!(!dir.path().join("dead-letters").exists(), "{}", done.stderr);
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (_, word, tagged) in files_sink_pairs(&dir.path().join("out")) {
        *counts
            .entry((
                word.as_str().unwrap().to_string(),
                tagged["v"].as_str().unwrap().to_string(),
            ))
            .or_default() += tagged["n"].as_u64().unwrap();
    }
    let expected: BTreeMap<(String, String), u64> = [
        ("one", "a", 1),
        ("two", "a", 1),
        ("three", "b", 10),
        ("four", "b", 10),
        ("a", "a", 1),
        ("fragile", "a", 1),
        ("line", "a", 1),
    ]
    .into_iter()
    .map(|(w, v, n)| ((w.to_string(), v.to_string()), n))
    .collect();
    assert_eq!(counts, expected);
}

#[test]
fn after_a_crash_the_version_that_was_live_runs_not_the_rolled_back_file() {
    let dir = TempDir::new("rollback-crash");
    let (good, broken) = (
        plugin_variant("tagged", ""),
        plugin_variant("tagged", "broken"),
    );
    let live = live_copy(&dir, "tagged", &good);
    let pipeline = tagged_pipeline(&dir, &live, "type = \"stdin\"", "100ms");
    let text = std::fs::read_to_string(&pipeline).unwrap().replace(
        "[pipeline]\n",
        "[pipeline]\ncheckpoint_dir = \"checkpoints\"\ncheckpoint_interval = 1\n",
    );
    std::fs::write(&pipeline, text).unwrap();
    let chunks = [random_lines(300, 7), random_lines(300, 8)];
    let feed = |stdin: &mut std::process::ChildStdin, lines: &[String]| {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    };
    let (mut sluice, mut stdin) = Sluice::start_with_stdin(&["run", "--watch", &pipeline]);
    sluice.wait_for_event("pipeline_started");
    replace_by_rename(&broken, &live);
    sluice.wait_for_event_where("version_ready", &|e| e["version"] == version_of(&broken));
    feed(&mut stdin, &chunks[0]);
    sluice.wait_for_event("version_rolled_back");
    let rerun = sluice.wait_for_nonempty_batch();
    assert_eq!(rerun, 300);
    let time = sluice.wait_for_event_where("batch_completed", &|e| e["records_in"] == 300)["batch"]
        .as_u64()
        .unwrap();
    sluice.wait_for_event_where("checkpoint_written", &|e| e["batch"] == time);
    sluice.signal("KILL");
    sluice.finish();

    // The file is still the broken version: the restart runs the good one instead.
    let (mut sluice, mut stdin) = Sluice::start_with_stdin(&["run", "--watch", &pipeline]);
    let line = sluice.wait_for_log("which failed and was rolled back before the restart");
    assert!(
        line.contains(&format!("running version {}", version_of(&good))),
        "{line}"
    );
    feed(&mut stdin, &chunks[1]);
    sluice.wait_for_nonempty_batch();
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(0);
    assert!(!dir.path().join("dead-letters").exists(), "{}", done.stderr);
    let all: Vec<&String> = chunks.iter().flatten().collect();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for (_, word, tagged) in files_sink_pairs(&dir.path().join("out")) {
        assert_eq!(tagged["v"], "a");
        *counts
            .entry(word.as_str().unwrap().to_string())
            .or_default() += tagged["n"].as_u64().unwrap();
    }
    assert_eq!(counts, count_words(&all));
}

#[test]
fn a_version_missing_a_function_is_refused_and_the_old_one_keeps_running() {
    let dir = TempDir::new("missing");
    let (good, missing) = (
        plugin_variant("tagged", ""),
        plugin_variant("tagged", "missing"),
    );
    let live = live_copy(&dir, "tagged", &good);
    let pipeline = tagged_pipeline(&dir, &live, "type = \"stdin\"", "100ms");
    let (mut sluice, mut stdin) = Sluice::start_with_stdin(&["run", "--watch", &pipeline]);
    sluice.wait_for_event("pipeline_started");
    replace_by_rename(&missing, &live);
    let refused = sluice.wait_for_log("does not serve this pipeline");
    assert!(refused.contains(&version_of(&missing)), "{refused}");
    sluice.wait_for_log("has no function `sum`");
    stdin.write_all(b"still counting\n").unwrap();
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(0);
    assert!(
        done.stderr
            .contains(&format!("tagged@{}", version_of(&good)))
    );
    assert!(!done.stderr.contains("swapped plugin"), "{}", done.stderr);
}

/// Running word totals (`counter::tally`, loaded from `live`) over the files renamed into
/// `dir/in`, written to `dir/out`, checkpointed in `dir/checkpoints` with the extra
/// `[pipeline]` keys `extra`.
fn counter_over_files(dir: &TempDir, live: &Path, extra: &str) -> std::path::PathBuf {
    std::fs::create_dir(dir.path().join("in")).unwrap();
    dir.write(
        "counter.toml",
        &format!(
            r#"
[pipeline]
batch_interval = "100ms"
partitions = 2
checkpoint_dir = "checkpoints"
{extra}

[plugins.wordcount]
path = {wordcount}

[plugins.counter]
path = {counter}

[sources.lines]
type = "directory"
path = "in"

[stages.words]
input = "lines"
op = "flat_map"
function = "wordcount::split_words"

[stages.totals]
input = "words"
op = "update_state_by_key"
function = "counter::tally"

[sinks.out]
input = "totals"
type = "files"
path = "out"
"#,
            wordcount = toml_path(&plugin_wasm("wordcount")),
            counter = toml_path(live)
        ),
    )
}

/// Writes `lines` as `dir/in/f<i>.txt`, renamed into place so that it is read whole.
fn drop_lines(dir: &TempDir, i: usize, lines: &[String]) {
    let staged = dir.path().join(format!(".f{i}"));
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&staged, text).unwrap();
    std::fs::rename(&staged, dir.path().join("in").join(format!("f{i}.txt"))).unwrap();
}

#[test]
fn a_crash_after_a_migrating_swap_migrates_the_checkpointed_state_at_restart() {
    let dir = TempDir::new("migrate-crash");
    let (v1, v2) = (
        plugin_variant("counter", ""),
        plugin_variant("counter", "v2"),
    );
    let live = live_copy(&dir, "counter", &v1);
    let pipeline = counter_over_files(&dir, &live, "checkpoint_interval = 100000");
    let pipeline = pipeline.to_str().unwrap();
    let files = [random_lines(500, 11), random_lines(500, 12)];
    let drop_file = |i: usize| drop_lines(&dir, i, &files[i]);
    // Version 1 counts the first file; a graceful stop checkpoints its state.
    let mut sluice = Sluice::start(&["run", pipeline]);
    sluice.wait_for_event("pipeline_started");
    drop_file(0);
    sluice.wait_for_nonempty_batch();
    sluice.signal("TERM");
    sluice.finish().expect_code(0);
    // Version 2 is swapped in (migrating), counts the second file, and the process is
    // killed before any checkpoint holds the migrated state.
    let mut sluice = Sluice::start(&["run", "--watch", pipeline]);
    sluice.wait_for_event("pipeline_started");
    replace_by_rename(&v2, &live);
    let swapped = sluice.wait_for_event_where("version_swapped", &|e| e["plugin"] == "counter");
    assert!(swapped["migrated_keys"].as_u64() > Some(0), "{swapped}");
    drop_file(1);
    sluice.wait_for_nonempty_batch();
    sluice.signal("KILL");
    sluice.finish();
    // The restart migrates the checkpoint's version-1 state before it runs version 2.
    let mut sluice = Sluice::start(&["run", pipeline]);
    let restored = sluice.wait_for_log("at the checkpoint and is");
    assert!(
        restored.contains("migrated by its migrate_state"),
        "{restored}"
    );
    sluice.wait_for_event("batch_rerun");
    sluice.wait_for_nonempty_batch();
    sluice.signal("TERM");
    let done = sluice.finish();
    done.expect_code(0);
    assert!(done.stderr.contains("(0 failed)"), "{}", done.stderr);
    let mut last: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (batch, word, tally) in files_sink_pairs(&dir.path().join("out")) {
        if let Some(total) = tally["total"].as_u64() {
            last.entry(batch)
                .or_default()
                .insert(word.as_str().unwrap().to_string(), total);
        }
    }
    let all: Vec<&String> = files.iter().flatten().collect();
    assert_eq!(last.into_values().last().unwrap(), count_words(&all));
}

#[test]
fn a_kept_migrate_function_does_not_migrate_its_own_output_again() {
    let dir = TempDir::new("migrate-once");
    let (v2, v3, v3_rebuilt) = (
        plugin_variant("counter", "v2"),
        plugin_variant("counter", "v3"),
        plugin_variant("counter", "rebuilt"),
    );
    let live = live_copy(&dir, "counter", &v2);
    let pipeline = counter_over_files(&dir, &live, "");
    let pipeline = pipeline.to_str().unwrap();
    let files: Vec<Vec<String>> = (0..4).map(|i| random_lines(300, 30 + i)).collect();
    let drop_file = |i: usize| drop_lines(&dir, i, &files[i]);
    let swap_lines = |sluice: &Sluice| -> Vec<String> {
        sluice
            .log_so_far()
            .lines()
            .filter(|l| l.contains("swapped plugin `counter`"))
            .map(str::to_string)
            .collect()
    };
    let mut sluice = Sluice::start(&["run", "--watch", pipeline]);
    sluice.wait_for_event("pipeline_started");
    drop_file(0);
    sluice.wait_for_nonempty_batch();
    // Version 3 migrates version 2's structs...
    replace_by_rename(&v3, &live);
    sluice.wait_for_events("version_swapped", &|e| e["plugin"] == "counter", 1);
    assert!(
        swap_lines(&sluice)[0].contains("migrated the state of"),
        "{:?}",
        swap_lines(&sluice)
    );
    drop_file(1);
    sluice.wait_for_nonempty_batch();
    // ...and another build with the same migrate function leaves its output alone,
    // although a version 3 state decodes as a version 2 one.
    replace_by_rename(&v3_rebuilt, &live);
    sluice.wait_for_events("version_swapped", &|e| e["plugin"] == "counter", 2);
    let second = &swap_lines(&sluice)[1];
    assert!(!second.contains("migrated the state of"), "{second}");
    sluice.wait_for_log("is not migrated again");
    drop_file(2);
    sluice.wait_for_nonempty_batch();
    sluice.signal("TERM");
    sluice.finish().expect_code(0);
    // A restart with the first build restores the checkpoint of the second: the same
    // migrate function, so no migration either.
    replace_by_rename(&v3, &live);
    let mut sluice = Sluice::start(&["run", pipeline]);
    let restored = sluice.wait_for_log("at the checkpoint and is");
    assert!(!restored.contains("migrated by"), "{restored}");
    drop_file(3);
    sluice.wait_for_nonempty_batch();
    sluice.signal("TERM");
    sluice.finish().expect_code(0);

    let mut last: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for (batch, word, state) in files_sink_pairs(&dir.path().join("out")) {
        last.entry(batch)
            .or_default()
            .insert(word.as_str().unwrap().to_string(), state);
    }
    let last = last.into_values().last().unwrap();
    let total = count_words(&files.iter().flatten().collect::<Vec<_>>());
    let since_v3 = count_words(&files[1..].iter().flatten().collect::<Vec<_>>());
    for (word, state) in &last {
        assert_eq!(state["total"].as_u64(), total.get(word).copied(), "{word}");
        assert_eq!(
            state["since_v3"].as_u64(),
            Some(since_v3.get(word).copied().unwrap_or(0)),
            "{word}: {state}"
        );
    }
    assert_eq!(last.len(), total.len());
}

#[test]
fn state_is_kept_across_a_swap_and_migrated_to_the_new_encoding() {
    let dir = TempDir::new("migrate");
    let (v1, v2) = (
        plugin_variant("counter", ""),
        plugin_variant("counter", "v2"),
    );
    let live = live_copy(&dir, "counter", &v1);
    let pipeline = dir.write(
        "counter.toml",
        &format!(
            r#"
[pipeline]
batch_interval = "100ms"
partitions = 2

[plugins.wordcount]
path = {wordcount}

[plugins.counter]
path = {counter}

[sources.lines]
type = "stdin"

[stages.words]
input = "lines"
op = "flat_map"
function = "wordcount::split_words"

[stages.totals]
input = "words"
op = "update_state_by_key"
function = "counter::tally"

[sinks.out]
input = "totals"
type = "files"
path = "out"
"#,
            wordcount = toml_path(&plugin_wasm("wordcount")),
            counter = toml_path(&live)
        ),
    );
    let (mut sluice, mut stdin) =
        Sluice::start_with_stdin(&["run", "--watch", pipeline.to_str().unwrap()]);
    let before = random_lines(2_000, 5);
    let after: Vec<String> = random_lines(2_000, 6)
        .into_iter()
        .map(|l| l.replace("alpha", "zulu"))
        .collect();
    stdin
        .write_all(
            before
                .iter()
                .map(|l| format!("{l}\n"))
                .collect::<String>()
                .as_bytes(),
        )
        .unwrap();
    stdin.flush().unwrap();
    sluice.wait_for_nonempty_batch();
    replace_by_rename(&v2, &live);
    let swapped = sluice.wait_for_event_where("version_swapped", &|e| e["plugin"] == "counter");
    assert!(swapped["migrated_keys"].as_u64() > Some(0), "{swapped}");
    stdin
        .write_all(
            after
                .iter()
                .map(|l| format!("{l}\n"))
                .collect::<String>()
                .as_bytes(),
        )
        .unwrap();
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(0);
    // The last batch holds every key's state: totals carried across the swap, in the
    // new encoding.
    let pairs = files_sink_pairs(&dir.path().join("out"));
    let last = pairs.iter().map(|(b, _, _)| b.clone()).max().unwrap();
    let mut totals = BTreeMap::new();
    for (_, word, state) in pairs.iter().filter(|(b, _, _)| *b == last) {
        totals.insert(
            word.as_str().unwrap().to_string(),
            state["total"].as_u64().expect("a v2 state"),
        );
        let batches = state["batches"].as_u64().unwrap();
        let seen_after = after
            .iter()
            .any(|l| l.split(' ').any(|w| w == word.as_str().unwrap()));
        assert_eq!(batches > 0, seen_after, "{word}: {state}");
    }
    let all: Vec<&String> = before.iter().chain(&after).collect();
    assert_eq!(totals, count_words(&all));
}

/// Writes a syntax error into the template's `src/lib.rs` at `lib`; returns the source
/// as it was.
fn break_the_build(lib: &std::path::Path) -> String {
    let source = std::fs::read_to_string(lib).unwrap();
    std::fs::write(
        lib,
        source.replace("word.to_lowercase()", "word.to_lowercase("),
    )
    .unwrap();
    source
}

/// `sluice plugin new NAME` in `dir`, locked to this workspace's dependency versions so
/// that nothing new is compiled; the crate and the target directory to build it in.
fn plugin_crate(dir: &TempDir, name: &str) -> (std::path::PathBuf, String) {
    let target = std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .to_path_buf();
    Sluice::start(&["plugin", "new", name, "--dir", dir.path().to_str().unwrap()])
        .finish()
        .expect_code(0);
    let crate_dir = dir.path().join(name);
    std::fs::copy(repo().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    (crate_dir, target.to_str().unwrap().to_string())
}

#[test]
fn dev_rebuilds_an_edited_crate_and_swaps_it_in() {
    let dir = TempDir::new("dev");
    let (crate_dir, target) = plugin_crate(&dir, "shouty");
    let env = [("CARGO_TARGET_DIR", target.as_str())];
    let pipeline = crate_dir.join("pipeline.toml");
    let (mut sluice, mut stdin) = Sluice::start_with_env(
        &["dev", pipeline.to_str().unwrap(), "--http", "127.0.0.1:0"],
        &env,
    );
    sluice.wait_for_event_where("watching_plugin", &|e| e["plugin"] == "shouty");
    let http = sluice.http_address();
    let version = || {
        let plugins = crate::support::http::get_json(&http, "/api/v1/plugins");
        let current = plugins
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "shouty" && p["current"] == true)
            .cloned()
            .unwrap_or_else(|| panic!("a current `shouty` in {plugins}"));
        current["version"].as_str().unwrap().to_string()
    };
    let say = |stdin: &mut std::process::ChildStdin, sluice: &mut Sluice| {
        stdin.write_all(b"Hello World\n").unwrap();
        stdin.flush().unwrap();
        sluice.wait_for_nonempty_batch();
    };
    say(&mut stdin, &mut sluice);
    let first = version();
    let lib = crate_dir.join("src/lib.rs");
    // A change that does not compile: the compiler's error is shown, the old version runs.
    let source = break_the_build(&lib);
    sluice.wait_for_log("the new version cannot be used");
    say(&mut stdin, &mut sluice);
    std::fs::write(
        &lib,
        source.replace("word.to_lowercase()", "word.to_uppercase()"),
    )
    .unwrap();
    let swapped = sluice.wait_for_event_where("version_swapped", &|e| e["plugin"] == "shouty");
    say(&mut stdin, &mut sluice);
    let second = version();
    assert_ne!(
        first, second,
        "the page's plugin table shows the new version"
    );
    assert!(
        swapped["message"]
            .as_str()
            .unwrap()
            .contains(&format!("to {second}")),
        "the log and the API name the same version: {swapped}"
    );
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(0);
    assert!(
        done.stderr.contains("error"),
        "cargo's error is shown:\n{}",
        done.stderr
    );
    let printed: Vec<String> = done
        .printed_batches()
        .into_iter()
        .flat_map(|(_, r)| r)
        .collect();
    assert_eq!(
        printed.iter().filter(|r| *r == "(hello,1)").count(),
        2,
        "{printed:?}"
    );
    assert!(printed.contains(&"(HELLO,1)".to_string()), "{printed:?}");
}

#[test]
fn dev_waits_for_a_crate_that_does_not_build_and_applies_pipeline_edits_it_can() {
    let dir = TempDir::new("devedits");
    let (crate_dir, target) = plugin_crate(&dir, "edity");
    let env = [("CARGO_TARGET_DIR", target.as_str())];
    let lib = crate_dir.join("src/lib.rs");
    let source = break_the_build(&lib);
    let pipeline = crate_dir.join("pipeline.toml");
    let (mut sluice, mut stdin) =
        Sluice::start_with_env(&["dev", pipeline.to_str().unwrap()], &env);
    // It does not build: dev waits for a fix instead of exiting.
    sluice.wait_for_event_where("waiting_for_fix", &|e| e["plugin"] == "edity");
    std::fs::write(&lib, &source).unwrap();
    sluice.wait_for_event("pipeline_started");
    stdin.write_all(b"a b c d e\n").unwrap();
    stdin.flush().unwrap();
    sluice.wait_for_nonempty_batch();
    // Keys that apply live (a print sink's num, a plugin's deadline), and one that needs
    // a restart.
    let text = std::fs::read_to_string(&pipeline).unwrap();
    let edited = format!("{text}num = 2\n")
        .replace("batch_interval = \"1s\"", "batch_interval = \"2s\"")
        .replace("path = \".\"", "path = \".\"\ndeadline = \"5s\"");
    std::fs::write(&pipeline, edited).unwrap();
    let restart = sluice.wait_for_event("pipeline_edit_needs_restart");
    assert_eq!(restart["keys"], "pipeline.batch_interval", "{restart}");
    sluice.wait_for_event_where("pipeline_edit_applied", &|e| {
        e["key"] == "plugins.edity.deadline"
    });
    sluice.wait_for_event_where("pipeline_edit_applied", &|e| e["key"] == "sinks.out.num");
    // A file that does not load is reported, and nothing of it applied.
    std::fs::write(&pipeline, "[pipeline\n").unwrap();
    sluice.wait_for_event("pipeline_edit_refused");
    stdin.write_all(b"f g h i j\n").unwrap();
    stdin.flush().unwrap();
    sluice.wait_for_nonempty_batch();
    drop(stdin);
    let done = sluice.finish();
    done.expect_code(0);
    let shown: Vec<usize> = done
        .printed_batches()
        .into_iter()
        .map(|(_, records)| records.len())
        .filter(|&n| n > 0)
        .collect();
    // Five words, then the head of two (and `...`), at the one-second interval still.
    assert_eq!(shown, [5, 3], "{}", done.stdout);
}

#[test]
fn plugin_commands_create_build_test_and_inspect_a_plugin() {
    let dir = TempDir::new("plugincli");
    let (crate_dir, target) = plugin_crate(&dir, "wordy");
    let env = [("CARGO_TARGET_DIR", target.as_str())];
    let crate_path = crate_dir.to_str().unwrap();
    let run = |args: &[&str]| {
        let (sluice, stdin) = Sluice::start_with_env(args, &env);
        drop(stdin);
        let done = sluice.finish();
        done.expect_code(0);
        done
    };
    let built = run(&["plugin", "build", crate_path]);
    assert!(
        built.stdout.contains("wordy.wasm") && built.stdout.contains("words"),
        "{}",
        built.stdout
    );
    let input = dir.write("in.jsonl", "\"To be or\"\n\"not to be\"\n");
    let tested = run(&[
        "plugin",
        "test",
        crate_path,
        "--function",
        "words",
        "--input",
        input.to_str().unwrap(),
    ]);
    assert_eq!(
        tested.stdout.lines().collect::<Vec<_>>(),
        [
            "[\"to\",1]",
            "[\"be\",1]",
            "[\"or\",1]",
            "[\"not\",1]",
            "[\"to\",1]",
            "[\"be\",1]"
        ]
    );
    let wasm = built.stdout.split_whitespace().nth(1).unwrap().to_string();
    let inspected = run(&["plugin", "inspect", &wasm]);
    for expected in [
        "ABI version:  1",
        "words",
        "flat_map",
        "fn words(line: &str)",
        "not_blank",
        "filter",
        "sum",
        "reduce",
    ] {
        assert!(
            inspected.stdout.contains(expected),
            "{expected} missing:\n{}",
            inspected.stdout
        );
    }
}
