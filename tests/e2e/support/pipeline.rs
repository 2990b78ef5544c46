//! The pipelines tests share, as text: the word count most of them run, with the
//! source, settings and sinks each test varies.

use super::{plugin_wasm, toml_path};

/// The usual sink of [`word_count`]: a files sink `out` at `out/`.
pub const FILES_OUT: &str = "[sinks.out]\ninput = \"counts\"\ntype = \"files\"\npath = \"out\"\n";

/// The word count pipeline: `[pipeline]` with `settings` (TOML lines), the source
/// section `source` (`[sources.<name>]` and its keys), `words` (the `wordcount` plugin's
/// `split_words`) and `counts` (its `sum`, by key), then `sinks` (TOML sections reading
/// `counts`, or the source's name, such as [`FILES_OUT`]).
pub fn word_count(settings: &str, source: &str, sinks: &str) -> String {
    let name = source
        .trim_start()
        .strip_prefix("[sources.")
        .and_then(|rest| rest.split_once(']'))
        .map(|(name, _)| name)
        .expect("a [sources.<name>] section");
    format!(
        r#"[pipeline]
{settings}

[plugins.wordcount]
path = {wasm}

{source}

[stages.words]
input = "{name}"
op = "flat_map"
function = "wordcount::split_words"

[stages.counts]
input = "words"
op = "reduce_by_key"
function = "wordcount::sum"

{sinks}"#,
        wasm = toml_path(&plugin_wasm("wordcount")),
        settings = settings.trim(),
        source = source.trim(),
    )
}
