//! A bad pipeline file is refused before any input is read, with every problem listed
//! by file, line, key and hint.

use crate::support::*;

fn validate(dir: &TempDir, name: &str, text: &str) -> (i32, String, String) {
    let path = dir.write(name, text);
    let done = Sluice::start(&["validate", path.to_str().unwrap()]).finish();
    (done.status.code().unwrap_or(-1), done.stdout, done.stderr)
}

#[test]
fn every_problem_of_a_malformed_file_is_reported_with_its_line() {
    let dir = TempDir::new("malformed");
    let text = format!(
        r#"[pipeline]
batch_interval = "1 fortnight"
partitions = 0

[plugins.wordcount]
path = {wasm}

[sources.lines]
type = "sockett"

[stages.words]
input = "lines"
op = "flat_mapp"
function = "wordcount::split_words"

[stages.counts]
input = "wrods"
op = "reduce_by_key"
function = "wordcont::sum"
partitons = 4

[sinks.out]
input = "counts"
type = "print"
"#,
        wasm = toml_path(&plugin_wasm("wordcount"))
    );
    let (code, stdout, stderr) = validate(&dir, "bad.toml", &text);
    assert_ne!(code, 0);
    assert!(stdout.is_empty(), "{stdout}");
    let file = dir.path().join("bad.toml").display().to_string();
    for expected in [
        format!("{file}:2:18: pipeline.batch_interval: unknown unit `fortnight` in `1 fortnight`"),
        format!("{file}:3:14: pipeline.partitions: must be at least 1, found 0"),
        format!("{file}:9:8: sources.lines.type: unknown source type `sockett`"),
        "    hint: did you mean `socket`?".to_string(),
        format!("{file}:13:6: stages.words.op: unknown op `flat_mapp`"),
        "    hint: did you mean `flat_map`?".to_string(),
        format!("{file}:19:12: stages.counts.function: unknown plugin `wordcont`"),
        "    hint: did you mean `wordcount`?".to_string(),
        format!("{file}:20:1: stages.counts.partitons: unknown key"),
        "    hint: did you mean `partitions`?".to_string(),
    ] {
        assert!(
            stderr.contains(&expected),
            "missing {expected:?} in\n{stderr}"
        );
    }
    assert!(stderr.contains("problems in"), "{stderr}");
    // `run` refuses the same file before reading anything.
    let done = Sluice::start(&["run", dir.path().join("bad.toml").to_str().unwrap()]).finish();
    assert_eq!(done.status.code(), Some(1));
    assert!(!done.stderr.contains("running pipeline"), "{}", done.stderr);
}

#[test]
fn invalid_toml_is_reported_at_its_line() {
    let dir = TempDir::new("syntax");
    let (code, _, stderr) = validate(
        &dir,
        "syntax.toml",
        "[pipeline]\nname = \"x\"\nbatch_interval = 1s\n",
    );
    assert_ne!(code, 0);
    let file = dir.path().join("syntax.toml").display().to_string();
    assert!(
        stderr.contains(&format!("{file}:3:")) && stderr.contains("invalid TOML"),
        "{stderr}"
    );
}

fn wordcount_with(stage_op: &str, function: &str) -> String {
    format!(
        r#"[plugins.wordcount]
path = {wasm}

[sources.lines]
type = "stdin"

[stages.words]
input = "lines"
op = "{stage_op}"
function = "{function}"

[sinks.out]
input = "words"
type = "print"
"#,
        wasm = toml_path(&plugin_wasm("wordcount"))
    )
}

#[test]
fn functions_are_checked_against_the_plugin_manifest() {
    let dir = TempDir::new("manifest");
    let file = dir.path().join("missing.toml").display().to_string();
    let (code, _, stderr) = validate(
        &dir,
        "missing.toml",
        &wordcount_with("flat_map", "wordcount::split_wrods"),
    );
    assert_ne!(code, 0);
    assert!(
        stderr.contains(&format!(
            "{file}:10:12: stages.words.function: plugin `wordcount` has no function `split_wrods`"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "did you mean `split_words`? it exports: split_words (flat_map), sum (reduce)"
        ),
        "{stderr}"
    );

    let (code, _, stderr) = validate(&dir, "kind.toml", &wordcount_with("map", "wordcount::sum"));
    assert_ne!(code, 0);
    assert!(
        stderr.contains(
            "`wordcount::sum` is a reduce function, but `function` of op `map` needs a map function"
        ),
        "{stderr}"
    );
}

#[test]
fn a_valid_pipeline_validates_and_names_its_plugin_versions() {
    let dir = TempDir::new("valid");
    let (code, stdout, stderr) = validate(
        &dir,
        "ok.toml",
        &wordcount_with("flat_map", "wordcount::split_words"),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(": ok: pipeline `ok`"), "{stdout}");
    assert!(
        stdout.contains("plugin `wordcount` version ")
            && stdout.contains("split_words (flat_map), sum (reduce)"),
        "{stdout}"
    );
}

#[test]
fn a_file_that_is_not_a_plugin_is_refused_with_a_reason() {
    let dir = TempDir::new("notwasm");
    dir.write("junk.wasm", "this is not WebAssembly");
    let text = wordcount_with("flat_map", "wordcount::split_words")
        .replace(&toml_path(&plugin_wasm("wordcount")), "\"junk.wasm\"");
    let (code, _, stderr) = validate(&dir, "junk.toml", &text);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("plugin `wordcount`: not a valid WebAssembly module"),
        "{stderr}"
    );
}
