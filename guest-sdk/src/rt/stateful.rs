//! The loops of the kinds that carry a key's state from batch to batch:
//! `#[update_state]`, `#[map_with_state]` and `#[inverse_reduce]` (the running value of a
//! window). Each input item is a `[key, ...]` array; each output item starts with the
//! input key's bytes, copied unchanged, because the host matches keys byte for byte.

use super::{Input, Output};
use crate::State;
use serde::{Deserialize, Serialize};

const UPDATE_STATE_ITEM: &str = "a [key, [values], state or nil] item";
const MAP_WITH_STATE_ITEM: &str = "a [key, [values], state or nil, timing_out] item";
const INVERSE_REDUCE_ITEM: &str = "a [key, value, [values]] item";
const MIGRATE_STATE_ITEM: &str = "a [key, state] item";

/// `#[migrate_state]`: each `[key, state]` in the old encoding becomes `[key, state]` in
/// the new one. A state that does not decode as the old type but does as the new one is
/// already migrated and passes through unchanged, so migrating twice changes nothing.
pub fn migrate_state<'a, O, N, F>(
    input: &mut Input<'a>,
    out: &mut Output<'_>,
    mut f: F,
) -> Result<(), String>
where
    O: Deserialize<'a>,
    N: Deserialize<'a> + Serialize,
    F: FnMut(O) -> N,
{
    while let Some(item) = input.next_item::<2>(MIGRATE_STATE_ITEM) {
        let [raw_key, raw_state] = item?;
        match rmp_serde::from_slice::<O>(raw_state) {
            Ok(old) => out
                .push_pair(raw_key, &f(old))
                .map_err(|e| input.error(e))?,
            Err(old) => match rmp_serde::from_slice::<N>(raw_state) {
                Ok(_) => out.push_raw_pair(raw_key, raw_state),
                Err(new) => {
                    return Err(input.error(format!(
                        "state decodes neither as the old type ({old}) nor as the new one ({new})"
                    )));
                }
            },
        }
    }
    Ok(())
}

/// `#[update_state]`: each key's new state (`None` removes it) from its old state and the
/// batch's values. One `[key, state or nil]` out per `[key, [values], state or nil]` in.
pub fn update_state<'a, K, V, S, F>(
    input: &mut Input<'a>,
    out: &mut Output<'_>,
    mut f: F,
) -> Result<(), String>
where
    K: Deserialize<'a>,
    V: Deserialize<'a>,
    S: Deserialize<'a> + Serialize,
    F: FnMut(K, Vec<V>, Option<S>) -> Option<S>,
{
    while let Some(item) = input.next_item::<3>(UPDATE_STATE_ITEM) {
        let [raw_key, values, state] = item?;
        let key = input.decode_part(raw_key, "key")?;
        let values = input.decode_part(values, "values")?;
        let state = input.decode_part(state, "state")?;
        let state = f(key, values, state);
        out.push_pair(raw_key, &state).map_err(|e| input.error(e))?;
    }
    Ok(())
}

/// `#[map_with_state]`: the function is called once per value of a key, in order, with
/// one [`State`] lent to every call; `Some` results are the mapped records. A timing-out
/// key gets one call with no value. One `[key, state or nil, [mapped records]]` out per
/// `[key, [values], state or nil, timing_out]` in.
pub fn map_with_state<'a, K, V, S, O, F>(
    input: &mut Input<'a>,
    out: &mut Output<'_>,
    mut f: F,
) -> Result<(), String>
where
    K: Deserialize<'a>,
    V: Deserialize<'a>,
    S: Deserialize<'a> + Serialize,
    O: Serialize,
    F: FnMut(&K, Option<V>, &mut State<S>) -> Option<O>,
{
    // The mapped records of one item, encoded: the state goes before them on the wire
    // but is only known after the last call. Reused from item to item.
    let mut records = Vec::new();
    while let Some(item) = input.next_item::<4>(MAP_WITH_STATE_ITEM) {
        let [raw_key, values, state, timing_out] = item?;
        let key = input.decode_part(raw_key, "key")?;
        let values: Vec<V> = input.decode_part(values, "values")?;
        let state: Option<S> = input.decode_part(state, "state")?;
        let timing_out: bool = input.decode_part(timing_out, "timing_out")?;
        records.clear();
        let mut count = 0;
        let mut emit = |record: Option<O>| match record {
            Some(record) => rmp_serde::encode::write_named(&mut records, &record)
                .map(|()| count += 1)
                .map_err(|e| input.error(e)),
            None => Ok(()),
        };
        let state = if timing_out {
            if !values.is_empty() {
                return Err(input.error(format!(
                    "a timing-out key has no values, found {}",
                    values.len()
                )));
            }
            let state =
                state.ok_or_else(|| input.error("a timing-out key has a state, found nil"))?;
            let mut state = State::timing_out(state);
            emit(f(&key, None, &mut state))?;
            state
        } else {
            let mut state = State::new(state);
            for value in values {
                emit(f(&key, Some(value), &mut state))?;
            }
            state
        };
        out.push_state_records(raw_key, state.get(), count, &records)
            .map_err(|e| input.error(e))?;
    }
    Ok(())
}

/// `#[inverse_reduce]`: for each `[key, value, [values]]`, folds the values out of the
/// value in order, `inv(inv(value, v1), v2)...`, and outputs `[key, result]`.
pub fn inverse_reduce<'a, V, F>(
    input: &mut Input<'a>,
    out: &mut Output<'_>,
    mut f: F,
) -> Result<(), String>
where
    V: Deserialize<'a> + Serialize,
    F: FnMut(V, V) -> V,
{
    while let Some(item) = input.next_item::<3>(INVERSE_REDUCE_ITEM) {
        let [raw_key, value, values] = item?;
        let value = input.decode_part(value, "value")?;
        let values: Vec<V> = input.decode_part(values, "values")?;
        let value = values.into_iter().fold(value, &mut f);
        out.push_pair(raw_key, &value).map_err(|e| input.error(e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::call_native;

    fn partition<T: Serialize>(items: &[T]) -> Vec<u8> {
        rmp_serde::to_vec_named(items).unwrap()
    }

    fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Vec<T> {
        rmp_serde::from_slice(bytes).unwrap()
    }

    fn running_total(_key: &str, values: Vec<u64>, state: Option<u64>) -> Option<u64> {
        let total = state.unwrap_or(0) + values.iter().sum::<u64>();
        // A total of zero removes the key.
        (total > 0).then_some(total)
    }

    #[test]
    fn update_state_folds_values_into_the_state_and_removes_keys() {
        let input = partition(&[
            ("a", vec![1u64, 2], Some(10u64)),
            ("b", vec![], None),
            ("c", vec![5], None),
        ]);
        let out = call_native(&input, |i, o| {
            update_state::<&str, u64, u64, _>(i, o, running_total)
        })
        .unwrap();
        assert_eq!(
            decode::<(String, Option<u64>)>(&out),
            [
                ("a".into(), Some(13)),
                ("b".into(), None),
                ("c".into(), Some(5))
            ]
        );
    }

    #[test]
    fn keys_are_copied_byte_for_byte_even_when_not_smallest() {
        // "k" as a str8 and 5 as a uint16: valid MessagePack, but not what the SDK would
        // write. The output must carry these bytes, not a re-encoding.
        let keys: [&[u8]; 2] = [&[0xd9, 0x01, b'k'], &[0xcd, 0x00, 0x05]];
        let mut input = vec![0x92];
        for key in keys {
            input.push(0x93);
            input.extend_from_slice(key);
            input.extend_from_slice(&[0x91, 0x01, 0xc0]); // [1], nil
        }
        let out = call_native(&input, |i, o| {
            update_state::<serde::de::IgnoredAny, u64, u64, _>(i, o, |_, values, state| {
                Some(state.unwrap_or(0) + values.iter().sum::<u64>())
            })
        })
        .unwrap();
        let mut expected = vec![0xdd, 0, 0, 0, 2];
        for key in keys {
            expected.push(0x92);
            expected.extend_from_slice(key);
            expected.push(0x01);
        }
        assert_eq!(out, expected);

        let mut input = vec![0x91, 0x94];
        input.extend_from_slice(keys[0]);
        input.extend_from_slice(&[0x91, 0x07, 0xc0, 0xc2]); // [7], nil, false
        let out = call_native(&input, |i, o| {
            map_with_state::<&str, u64, u64, u64, _>(i, o, |_, value, state| {
                state.update(value?);
                None
            })
        })
        .unwrap();
        let mut expected = vec![0xdd, 0, 0, 0, 1, 0x93];
        expected.extend_from_slice(keys[0]);
        expected.extend_from_slice(&[0x07, 0x90]);
        assert_eq!(out, expected);
    }

    /// Emits every value with the running count of values seen for the key.
    fn numbered(key: &String, value: Option<&str>, state: &mut State<u64>) -> (String, u64) {
        let n = state.get().copied().unwrap_or(0) + 1;
        state.update(n);
        (format!("{key}:{}", value.unwrap_or("")), n)
    }

    #[test]
    fn map_with_state_threads_one_state_through_a_keys_values() {
        let input = partition(&[
            ("a", vec!["x", "y", "z"], Some(10u64), false),
            ("b", vec!["w"], None, false),
            ("c", vec![], Some(4), false),
        ]);
        let out = call_native(&input, |i, o| {
            map_with_state::<String, &str, u64, _, _>(i, o, |k, v, s| Some(numbered(k, v, s)))
        })
        .unwrap();
        type Item = (String, Option<u64>, Vec<(String, u64)>);
        let strs = |v: &[(&str, u64)]| v.iter().map(|(s, n)| (s.to_string(), *n)).collect();
        assert_eq!(
            decode::<Item>(&out),
            [
                (
                    "a".into(),
                    Some(13),
                    strs(&[("a:x", 11), ("a:y", 12), ("a:z", 13)])
                ),
                ("b".into(), Some(1), strs(&[("b:w", 1)])),
                ("c".into(), Some(4), vec![]),
            ]
        );
    }

    #[test]
    fn map_with_state_emits_only_somes_and_sends_nil_for_a_removed_state() {
        let input = partition(&[("a", vec![1u32, 2, 3, 4], Some(0u32), false)]);
        let out = call_native(&input, |i, o| {
            map_with_state::<&str, u32, u32, _, _>(i, o, |_, value, state| {
                let value = value?;
                if value == 4 {
                    state.remove();
                    return None;
                }
                state.update(value);
                (value % 2 == 1).then_some(value * 100)
            })
        })
        .unwrap();
        assert_eq!(
            decode::<(String, Option<u32>, Vec<u32>)>(&out),
            [("a".into(), None, vec![100, 300])]
        );
    }

    #[test]
    fn a_timing_out_key_gets_one_call_without_a_value() {
        let input = partition(&[("a", Vec::<u64>::new(), Some(7u64), true)]);
        let mut calls = Vec::new();
        let out = call_native(&input, |i, o| {
            map_with_state::<&str, u64, u64, _, _>(i, o, |key, value, state| {
                calls.push((value, state.is_timing_out(), state.get().copied()));
                Some(format!("{key} timed out"))
            })
        })
        .unwrap();
        assert_eq!(calls, [(None, true, Some(7))]);
        assert_eq!(
            decode::<(String, Option<u64>, Vec<String>)>(&out),
            [("a".into(), Some(7), vec!["a timed out".into()])]
        );
    }

    #[test]
    fn a_timing_out_item_with_values_or_without_state_is_refused() {
        let run = |input: Vec<u8>| {
            call_native(&input, |i, o| {
                map_with_state::<&str, u64, u64, u64, _>(i, o, |_, _, _| None)
            })
            .unwrap_err()
        };
        let with_values = partition(&[("a", vec![1u64], Some(7u64), true)]);
        assert_eq!(
            run(with_values),
            "record 0: a timing-out key has no values, found 1"
        );
        let without_state = partition(&[
            ("a", vec![1u64], Some(7u64), false),
            ("b", vec![], None, true),
        ]);
        assert_eq!(
            run(without_state),
            "record 1: a timing-out key has a state, found nil"
        );
    }

    #[test]
    fn inverse_reduce_folds_every_value_out_in_order() {
        let input = partition(&[("a", 100i64, vec![1i64, 10, 30]), ("b", 5, vec![])]);
        let out = call_native(&input, |i, o| inverse_reduce::<i64, _>(i, o, |a, b| a - b)).unwrap();
        assert_eq!(
            decode::<(String, i64)>(&out),
            [("a".into(), 59), ("b".into(), 5)]
        );
        // Order matters for a non-commutative inverse: ((x / 2) - 3) vs ((x - 3) / 2).
        let input = partition(&[("k", (40i64, 0i64), vec![(2i64, 0i64), (0, 3)])]);
        let out = call_native(&input, |i, o| {
            inverse_reduce::<(i64, i64), _>(i, o, |(a, _), (div, sub)| {
                (if div != 0 { a / div } else { a - sub }, 0)
            })
        })
        .unwrap();
        assert_eq!(
            decode::<(String, (i64, i64))>(&out),
            [("k".into(), (17, 0))]
        );
    }

    #[test]
    fn malformed_items_name_the_record_and_the_part() {
        let wrong_arity = partition(&[("a", vec![1u64])]);
        let err = call_native(&wrong_arity, |i, o| {
            update_state::<&str, u64, u64, _>(i, o, running_total)
        })
        .unwrap_err();
        assert_eq!(
            err,
            "record 0: expected a [key, [values], state or nil] item, found an array of 2"
        );
        let bad_state = partition(&[("a", vec![1u64], Some(1u64)), ("b", vec![], Some(u64::MAX))]);
        let err = call_native(&bad_state, |i, o| {
            update_state::<&str, u64, u8, _>(i, o, |_, _, s| s)
        })
        .unwrap_err();
        assert!(err.starts_with("record 1: state: "), "{err}");
        let not_an_array = partition(&[1u64]);
        let err = call_native(&not_an_array, |i, o| {
            inverse_reduce::<u64, _>(i, o, |a, b| a - b)
        })
        .unwrap_err();
        assert!(err.starts_with("record 0: "), "{err}");
    }

    #[test]
    fn migrate_state_converts_old_states_and_passes_new_ones_through() {
        #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
        struct Total {
            count: u64,
        }
        let old = rmp_serde::to_vec(&("a", 3u64)).unwrap();
        let new = rmp_serde::to_vec_named(&("b", Total { count: 5 })).unwrap();
        let mut input = vec![0x92];
        input.extend(&old);
        input.extend(&new);
        let out = call_native(&input, |i, o| {
            migrate_state::<u64, Total, _>(i, o, |n| Total { count: n })
        })
        .unwrap();
        assert_eq!(
            decode::<(String, Total)>(&out),
            [
                ("a".into(), Total { count: 3 }),
                ("b".into(), Total { count: 5 })
            ]
        );
        let junk = rmp_serde::to_vec(&vec![("c", "neither")]).unwrap();
        let err = call_native(&junk, |i, o| {
            migrate_state::<u64, Total, _>(i, o, |n| Total { count: n })
        })
        .unwrap_err();
        assert!(err.starts_with("record 0: state decodes neither"), "{err}");
    }
}
