//! Between Kafka messages and sluice records, both ways, without a client: a consumed
//! message becomes a record in the source's `format`, and a record becomes a message's
//! key and payload in the sink.

use super::KafkaFormat;
use crate::record::Records;
use serde::{Serialize, Serializer};
use sluice_sdk::wire;
use std::borrow::Cow;

/// One consumed message, as the source sees it.
#[derive(Clone, Copy, Debug)]
pub struct Consumed<'a> {
    /// The message key.
    pub key: Option<&'a [u8]>,
    /// The payload; none for a tombstone.
    pub value: Option<&'a [u8]>,
    /// The topic.
    pub topic: &'a str,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// Creation or log-append time, ms since the Unix epoch, if the message has one.
    pub timestamp: Option<i64>,
}

/// Bytes that are written as a string when they are UTF-8 and as binary otherwise.
struct Text<'a>(&'a [u8]);

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => s.serialize_bytes(self.0),
        }
    }
}

/// `format = "record"`: what a plugin decodes, for example into
/// `struct Record { key: Option<String>, value: Option<String>, topic: String,
/// partition: i32, offset: i64, timestamp: Option<i64> }`.
#[derive(Serialize)]
struct RecordForm<'a> {
    key: Option<Text<'a>>,
    value: Option<Text<'a>>,
    topic: &'a str,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
}

/// Appends `message` to `records` in `format`: the value as a string (lossily, if it is
/// not UTF-8; a tombstone is the empty string), or the whole record as a map.
pub fn push_consumed(records: &mut Records, format: KafkaFormat, message: &Consumed<'_>) {
    match format {
        KafkaFormat::Value => {
            let value = message.value.unwrap_or_default();
            match std::str::from_utf8(value) {
                Ok(text) => records.push_str(text),
                Err(_) => records.push_str(&String::from_utf8_lossy(value)),
            }
        }
        KafkaFormat::Record => records.push_with(|out| {
            let form = RecordForm {
                key: message.key.map(Text),
                value: message.value.map(Text),
                topic: message.topic,
                partition: message.partition,
                offset: message.offset,
                timestamp: message.timestamp,
            };
            rmp_serde::encode::write_named(out, &form).expect("writing to a Vec cannot fail");
        }),
    }
}

/// The key and payload of a message to produce, borrowed from the record when they are
/// strings or binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing<'a> {
    /// The message key, if any.
    pub key: Option<Cow<'a, [u8]>>,
    /// The payload; none for a tombstone.
    pub payload: Option<Cow<'a, [u8]>>,
}

/// The message a record becomes: a `[key, value]` pair is keyed by its key; any other
/// record has no key. Strings are written as their UTF-8 bytes, binary as itself, nil
/// as nothing (a nil value is a tombstone), anything else as JSON.
pub fn to_message(record: &[u8]) -> Outgoing<'_> {
    match wire::split_pair(record) {
        Ok((key, value)) => Outgoing {
            key: bytes_of(key),
            payload: bytes_of(value),
        },
        Err(_) => Outgoing {
            key: None,
            payload: bytes_of(record),
        },
    }
}

/// The bytes one encoded value is sent as.
fn bytes_of(value: &[u8]) -> Option<Cow<'_, [u8]>> {
    let header = |n: usize| -> Option<usize> {
        value
            .get(1..1 + n)
            .map(|b| b.iter().fold(0usize, |acc, &x| (acc << 8) | x as usize))
    };
    let (start, len) = match *value.first()? {
        0xc0 => return None,
        b @ 0xa0..=0xbf => (1, (b & 0x1f) as usize),
        0xd9 | 0xc4 => (2, header(1)?),
        0xda | 0xc5 => (3, header(2)?),
        0xdb | 0xc6 => (5, header(4)?),
        _ => {
            let mut json = String::new();
            crate::render::json(value, &mut json);
            return Some(Cow::Owned(json.into_bytes()));
        }
    };
    Some(Cow::Borrowed(value.get(start..start + len)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode<T: Serialize>(value: &T) -> Vec<u8> {
        rmp_serde::to_vec(value).unwrap()
    }

    fn consumed<'a>(key: Option<&'a [u8]>, value: Option<&'a [u8]>) -> Consumed<'a> {
        Consumed {
            key,
            value,
            topic: "events",
            partition: 3,
            offset: 1234,
            timestamp: Some(1_700_000_000_000),
        }
    }

    #[test]
    fn the_value_format_gives_the_value_as_a_string() {
        let mut records = Records::new();
        push_consumed(
            &mut records,
            KafkaFormat::Value,
            &consumed(Some(b"k"), Some(b"hello world")),
        );
        push_consumed(&mut records, KafkaFormat::Value, &consumed(None, None));
        push_consumed(
            &mut records,
            KafkaFormat::Value,
            &consumed(None, Some(b"\xffok")),
        );
        let got: Vec<String> = records
            .iter()
            .map(|r| rmp_serde::from_slice(r).unwrap())
            .collect();
        assert_eq!(got, ["hello world", "", "\u{fffd}ok"]);
    }

    #[test]
    fn the_record_format_is_a_map_a_plugin_can_decode() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Record {
            key: Option<String>,
            value: Option<serde_bytes::ByteBuf>,
            topic: String,
            partition: i32,
            offset: i64,
            timestamp: Option<i64>,
        }
        let mut records = Records::new();
        push_consumed(
            &mut records,
            KafkaFormat::Record,
            &consumed(Some(b"user-1"), Some(b"\x00\xff")),
        );
        let record: Record = rmp_serde::from_slice(records.iter().next().unwrap()).unwrap();
        assert_eq!(
            record,
            Record {
                key: Some("user-1".into()),
                value: Some(serde_bytes::ByteBuf::from(vec![0, 255])),
                topic: "events".into(),
                partition: 3,
                offset: 1234,
                timestamp: Some(1_700_000_000_000),
            }
        );
    }

    #[test]
    fn a_pair_becomes_a_keyed_message_and_values_are_text_or_json() {
        let pair = encode(&("word", 42u64));
        let message = to_message(&pair);
        assert_eq!(message.key.as_deref(), Some(&b"word"[..]));
        assert_eq!(message.payload.as_deref(), Some(&b"42"[..]));

        let line = encode(&"just a line");
        assert_eq!(
            to_message(&line),
            Outgoing {
                key: None,
                payload: Some(Cow::Borrowed(&b"just a line"[..]))
            }
        );

        let nested = encode(&(("k", 1u8), vec![1.5f64, 2.0]));
        let message = to_message(&nested);
        assert_eq!(message.key.as_deref(), Some(&b"[\"k\",1]"[..]));
        assert_eq!(message.payload.as_deref(), Some(&b"[1.5,2.0]"[..]));

        let tombstone = encode(&("gone", ()));
        assert_eq!(to_message(&tombstone).payload, None);

        let long = "x".repeat(300);
        assert_eq!(
            to_message(&encode(&long)).payload.as_deref(),
            Some(long.as_bytes())
        );
        let bytes = encode(&serde_bytes::Bytes::new(b"\x01\x02"));
        assert_eq!(
            to_message(&bytes).payload.as_deref(),
            Some(&b"\x01\x02"[..])
        );
    }
}
