//! The loop behind each function kind: decode every record of the partition, call the
//! user's function, encode what it returns. One of these runs per call, so the per-record
//! cost is a decode, a plain Rust call and an encode, with no boundary crossing.

use super::{Input, Output};
use crate::context::BatchContext;
use crate::wire::ReduceMode;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Display;
use std::hash::BuildHasherDefault;

/// `#[map]`: one record out per record in.
pub fn map<'a, I, O, F>(input: &mut Input<'a>, out: &mut Output<'_>, mut f: F) -> Result<(), String>
where
    I: Deserialize<'a>,
    O: Serialize,
    F: FnMut(I) -> O,
{
    while let Some(record) = input.next_record::<I>() {
        out.push(&f(record?)).map_err(|e| input.error(e))?;
    }
    Ok(())
}

/// `#[map]` whose function returns a `Result`: an `Err` fails the call.
pub fn try_map<'a, I, O, E, F>(
    input: &mut Input<'a>,
    out: &mut Output<'_>,
    mut f: F,
) -> Result<(), String>
where
    I: Deserialize<'a>,
    O: Serialize,
    E: Display,
    F: FnMut(I) -> Result<O, E>,
{
    while let Some(record) = input.next_record::<I>() {
        let mapped = f(record?).map_err(|e| input.error(e))?;
        out.push(&mapped).map_err(|e| input.error(e))?;
    }
    Ok(())
}

/// `#[flat_map]`: any number of records out per record in.
pub fn flat_map<'a, I, It, F>(
    input: &mut Input<'a>,
    out: &mut Output<'_>,
    mut f: F,
) -> Result<(), String>
where
    I: Deserialize<'a>,
    It: IntoIterator,
    It::Item: Serialize,
    F: FnMut(I) -> It,
{
    while let Some(record) = input.next_record::<I>() {
        for item in f(record?) {
            out.push(&item).map_err(|e| input.error(e))?;
        }
    }
    Ok(())
}

/// `#[flat_map]` whose function returns a `Result`.
pub fn try_flat_map<'a, I, It, E, F>(
    input: &mut Input<'a>,
    out: &mut Output<'_>,
    mut f: F,
) -> Result<(), String>
where
    I: Deserialize<'a>,
    It: IntoIterator,
    It::Item: Serialize,
    E: Display,
    F: FnMut(I) -> Result<It, E>,
{
    while let Some(record) = input.next_record::<I>() {
        for item in f(record?).map_err(|e| input.error(e))? {
            out.push(&item).map_err(|e| input.error(e))?;
        }
    }
    Ok(())
}

/// `#[filter]`: kept records are copied through byte for byte, never re-encoded.
pub fn filter<'a, I, F>(input: &mut Input<'a>, out: &mut Output<'_>, mut f: F) -> Result<(), String>
where
    I: Deserialize<'a>,
    F: FnMut(I) -> bool,
{
    while let Some(record) = input.next_decoded::<I>() {
        let (raw, value) = record?;
        if f(value) {
            out.push_raw(raw);
        }
    }
    Ok(())
}

/// `#[flat_map(combine = f)]`'s combining export: the flat_map's `(key, value)` pairs
/// are folded per key with `combine` as they come, inside the guest, so the partition
/// leaves as one pair per distinct key instead of one per record.
pub fn flat_map_combine<'a, I, It, K, V, F, C>(
    input: &mut Input<'a>,
    out: &mut Output<'_>,
    mut f: F,
    mut combine: C,
) -> Result<(), String>
where
    I: Deserialize<'a>,
    It: IntoIterator<Item = (K, V)>,
    K: std::hash::Hash + Eq + Clone + Serialize,
    V: Serialize,
    F: FnMut(I) -> It,
    C: FnMut(V, V) -> V,
{
    let mut slots: FastMap<K, usize> = FastMap::default();
    let mut combined: Vec<(K, Option<V>)> = Vec::new();
    while let Some(record) = input.next_record::<I>() {
        for (key, value) in f(record?) {
            match slots.entry(key) {
                std::collections::hash_map::Entry::Occupied(slot) => {
                    let acc = &mut combined[*slot.get()].1;
                    let old = acc.take().expect("slots hold a value between records");
                    *acc = Some(combine(old, value));
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    combined.push((slot.key().clone(), Some(value)));
                    slot.insert(combined.len() - 1);
                }
            }
        }
    }
    for (key, value) in combined {
        let value = value.expect("slots hold a value between records");
        out.push(&(key, value)).map_err(|e| input.error(e))?;
    }
    Ok(())
}

fn decode_all<'a, I: Deserialize<'a>>(input: &mut Input<'a>) -> Result<Vec<I>, String> {
    let mut records = Vec::with_capacity(input.remaining());
    while let Some(record) = input.next_record::<I>() {
        records.push(record?);
    }
    Ok(records)
}

/// `#[map_partition]`: the whole partition in, any number of records out.
pub fn map_partition<'a, I, It, F>(
    input: &mut Input<'a>,
    out: &mut Output<'_>,
    f: F,
) -> Result<(), String>
where
    I: Deserialize<'a>,
    It: IntoIterator,
    It::Item: Serialize,
    F: FnOnce(Vec<I>) -> It,
{
    for item in f(decode_all(input)?) {
        out.push(&item)?;
    }
    Ok(())
}

/// `#[map_partition]` whose function returns a `Result`.
pub fn try_map_partition<'a, I, It, E, F>(
    input: &mut Input<'a>,
    out: &mut Output<'_>,
    f: F,
) -> Result<(), String>
where
    I: Deserialize<'a>,
    It: IntoIterator,
    It::Item: Serialize,
    E: Display,
    F: FnOnce(Vec<I>) -> Result<It, E>,
{
    for item in f(decode_all(input)?).map_err(|e| e.to_string())? {
        out.push(&item)?;
    }
    Ok(())
}

/// `#[transform]`: the whole partition and the batch's context in, any number of records
/// out.
pub fn transform<'a, I, It, F>(
    input: &mut Input<'a>,
    out: &mut Output<'_>,
    f: F,
) -> Result<(), String>
where
    I: Deserialize<'a>,
    It: IntoIterator,
    It::Item: Serialize,
    F: FnOnce(Vec<I>, BatchContext) -> It,
{
    map_partition(input, out, |records| f(records, crate::context()))
}

/// `#[transform]` whose function returns a `Result`.
pub fn try_transform<'a, I, It, E, F>(
    input: &mut Input<'a>,
    out: &mut Output<'_>,
    f: F,
) -> Result<(), String>
where
    I: Deserialize<'a>,
    It: IntoIterator,
    It::Item: Serialize,
    E: Display,
    F: FnOnce(Vec<I>, BatchContext) -> Result<It, E>,
{
    try_map_partition(input, out, |records| f(records, crate::context()))
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<rustc_hash::FxHasher>>;

/// `#[reduce]`: combines values per key (keyed mode, for reduce_by_key) or all values
/// (whole mode, for reduce). Keys stay encoded: equal keys have equal bytes.
pub fn reduce<'a, V, F>(
    input: &mut Input<'a>,
    out: &mut Output<'_>,
    mode: u32,
    mut f: F,
) -> Result<(), String>
where
    V: Deserialize<'a> + Serialize,
    F: FnMut(V, V) -> V,
{
    match ReduceMode::from_raw(mode) {
        Some(ReduceMode::Keyed) => {
            // Keys in first-seen order, so that the output is deterministic.
            let mut slots: FastMap<&'a [u8], usize> = FastMap::default();
            let mut combined: Vec<(&'a [u8], Option<V>)> = Vec::new();
            while let Some(pair) = input.next_pair::<V>() {
                let (key, value) = pair?;
                match slots.get(key) {
                    Some(&slot) => {
                        let acc = &mut combined[slot].1;
                        *acc = acc.take().map(|old| f(old, value));
                    }
                    None => {
                        slots.insert(key, combined.len());
                        combined.push((key, Some(value)));
                    }
                }
            }
            for (key, value) in &combined {
                if let Some(value) = value {
                    out.push_pair(key, value)?;
                }
            }
            Ok(())
        }
        Some(ReduceMode::Whole) => {
            let mut acc: Option<V> = None;
            while let Some(value) = input.next_record::<V>() {
                let value = value?;
                acc = Some(match acc.take() {
                    Some(old) => f(old, value),
                    None => value,
                });
            }
            if let Some(acc) = acc {
                out.push(&acc)?;
            }
            Ok(())
        }
        None => Err(format!("unknown reduce mode {mode}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::call_native;

    fn partition<T: Serialize>(records: &[T]) -> Vec<u8> {
        rmp_serde::to_vec_named(records).unwrap()
    }

    fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Vec<T> {
        rmp_serde::from_slice(bytes).unwrap()
    }

    #[test]
    fn flat_map_borrows_strings_and_emits_pairs() {
        let input = partition(&["a b", "b"]);
        let out = call_native(&input, |i, o| {
            flat_map::<&str, _, _>(i, o, |line| {
                line.split(' ').map(|w| (w, 1u64)).collect::<Vec<_>>()
            })
        })
        .unwrap();
        assert_eq!(
            decode::<(String, u64)>(&out),
            [("a".into(), 1), ("b".into(), 1), ("b".into(), 1)]
        );
    }

    #[test]
    fn flat_map_combine_folds_pairs_per_key_in_the_guest() {
        let input = partition(&["a b a", "b a"]);
        let out = call_native(&input, |i, o| {
            flat_map_combine::<&str, _, _, _, _, _>(
                i,
                o,
                |line| line.split(' ').map(|w| (w, 1u64)).collect::<Vec<_>>(),
                |a, b| a + b,
            )
        })
        .unwrap();
        let mut pairs = decode::<(String, u64)>(&out);
        pairs.sort();
        assert_eq!(pairs, [("a".into(), 3), ("b".into(), 2)]);
    }

    #[test]
    fn filter_copies_kept_records_verbatim() {
        let input = partition(&[1u32, 300, 2, 70_000]);
        let out = call_native(&input, |i, o| filter::<u32, _>(i, o, |n| n % 2 == 0)).unwrap();
        assert_eq!(decode::<u32>(&out), [300, 2, 70_000]);
    }

    #[test]
    fn keyed_reduce_combines_per_key_in_first_seen_order() {
        let input = partition(&[("b", 1u64), ("a", 2), ("b", 3), ("c", 4), ("a", 5)]);
        let out = call_native(&input, |i, o| {
            reduce::<u64, _>(i, o, ReduceMode::Keyed as u32, |a, b| a + b)
        })
        .unwrap();
        assert_eq!(
            decode::<(String, u64)>(&out),
            [("b".into(), 4), ("a".into(), 7), ("c".into(), 4)]
        );
    }

    #[test]
    fn whole_reduce_yields_nothing_for_an_empty_partition() {
        let out = call_native(&partition::<u64>(&[]), |i, o| {
            reduce::<u64, _>(i, o, 1, |a, b| a.max(b))
        })
        .unwrap();
        assert!(decode::<u64>(&out).is_empty());
        let out = call_native(&partition(&[3u64, 9, 4]), |i, o| {
            reduce::<u64, _>(i, o, 1, |a, b| a.max(b))
        })
        .unwrap();
        assert_eq!(decode::<u64>(&out), [9]);
    }

    #[test]
    fn transform_sees_the_batch_context() {
        crate::context::set(BatchContext {
            batch_time_ms: 1_700_000_000_000,
            partition: 3,
        });
        let out = call_native(&partition(&[1u64, 2]), |i, o| {
            transform::<u64, _, _>(i, o, |records, context| {
                let stamp = (context.batch_time_ms, context.partition);
                records.into_iter().map(move |n| (n, stamp))
            })
        })
        .unwrap();
        assert_eq!(
            decode::<(u64, (i64, u32))>(&out),
            [(1, (1_700_000_000_000, 3)), (2, (1_700_000_000_000, 3))]
        );
        let err = call_native(&partition(&[1u64]), |i, o| {
            try_transform::<u64, Vec<u64>, _, _>(i, o, |_, context| {
                Err(format!("late at partition {}", context.partition))
            })
        })
        .unwrap_err();
        assert_eq!(err, "late at partition 3");
    }

    #[test]
    fn a_record_of_the_wrong_type_names_its_index() {
        let input = rmp_serde::to_vec(&("ok", 7u32)).unwrap();
        // The tuple is an array of two records: a string, then an integer.
        let err = call_native(&input, |i, o| map::<&str, _, _>(i, o, |s| s.len())).unwrap_err();
        assert!(err.starts_with("record 1: "), "{err}");
    }

    #[test]
    fn an_err_from_the_function_fails_the_call_with_its_message() {
        let input = partition(&["1", "x"]);
        let err = call_native(&input, |i, o| {
            try_map::<&str, _, _, _>(i, o, |s| s.parse::<u32>())
        })
        .unwrap_err();
        assert_eq!(err, "record 1: invalid digit found in string");
    }
}
