//! `initial_state`: a JSON-lines file of `[key, state]` pairs loaded into a keyed state
//! before the first batch, encoded the way the SDK encodes records.

use super::{KeyedState, StateEntry};
use anyhow::{Context as _, bail};
use std::path::Path;

/// Reads `file` into `state`, each key touched at `now_ms`. Errors name the file and
/// the line.
pub fn load_initial_state(
    file: &Path,
    state: &mut KeyedState,
    now_ms: u64,
) -> anyhow::Result<usize> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read initial state {}", file.display()))?;
    let mut loaded = 0;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let at = || format!("{}:{}", file.display(), i + 1);
        let value: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{}: not JSON", at()))?;
        let Some([key, value]) = value
            .as_array()
            .and_then(|a| <&[_; 2]>::try_from(a.as_slice()).ok())
        else {
            bail!("{}: expected a [key, state] array", at());
        };
        let key = rmp_serde::to_vec_named(key).with_context(at)?;
        let value = rmp_serde::to_vec_named(value).with_context(at)?;
        state.insert(
            &key,
            StateEntry {
                state: value.into(),
                touched_ms: now_ms,
            },
        );
        loaded += 1;
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_pairs_encoded_as_the_sdk_encodes_them() {
        let file =
            std::env::temp_dir().join(format!("sluice-initial-{}.jsonl", std::process::id()));
        std::fs::write(&file, "[\"a\", 3]\n\n[\"b\", {\"n\": 1}]\n").unwrap();
        let mut state = KeyedState::new(2);
        assert_eq!(load_initial_state(&file, &mut state, 9).unwrap(), 2);
        let key = rmp_serde::to_vec(&"a").unwrap();
        let p = crate::partition::partition_of(&key, 2);
        assert_eq!(
            &*state.partition(p)[&key[..]].state,
            &rmp_serde::to_vec(&3u64).unwrap()[..]
        );

        std::fs::write(&file, "[\"a\", 3]\n[\"oops\"]\n").unwrap();
        let err = load_initial_state(&file, &mut state, 9)
            .unwrap_err()
            .to_string();
        assert!(err.ends_with(":2: expected a [key, state] array"), "{err}");
        std::fs::remove_file(&file).unwrap();
    }
}
