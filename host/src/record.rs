//! [`Records`]: one partition of a batch, its records encoded back to back exactly as
//! they cross the plugin boundary, so that moving data between stages and into guest
//! memory is a copy of bytes, never a re-encode.

use sluice_sdk::wire::{self, WireError};

/// The records of one partition, as concatenated MessagePack values.
///
/// Invariant: `bytes` holds exactly `len` complete values. Every constructor that takes
/// bytes from outside (a plugin's output) checks the framing, so iteration cannot fail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Records {
    bytes: Vec<u8>,
    len: usize,
}

impl Records {
    /// No records.
    pub fn new() -> Self {
        Self::default()
    }

    /// No records, with room for `bytes` bytes.
    pub fn with_capacity(bytes: usize) -> Self {
        Records {
            bytes: Vec::with_capacity(bytes),
            len: 0,
        }
    }

    /// Parses one MessagePack array (a plugin's output) into its records, checking that
    /// every item is a complete value and nothing trails the array.
    pub fn from_array(buf: &[u8]) -> Result<Self, WireError> {
        let (len, header) = wire::read_array_header(buf)?;
        let body = &buf[header..];
        let mut at = 0;
        for _ in 0..len {
            at += wire::value_len(&body[at..]).map_err(|e| WireError {
                offset: header + at + e.offset,
                ..e
            })?;
        }
        if at != body.len() {
            return Err(WireError {
                offset: header + at,
                what: "bytes after the last record",
            });
        }
        Ok(Records {
            bytes: body.to_vec(),
            len,
        })
    }

    /// Records from concatenated values read back from disk (a checkpoint, a
    /// write-ahead log), checking that `bytes` holds exactly `len` complete values.
    pub fn from_encoded(bytes: Vec<u8>, len: usize) -> Result<Self, WireError> {
        let mut at = 0;
        for _ in 0..len {
            at += wire::value_len(&bytes[at..]).map_err(|e| WireError {
                offset: at + e.offset,
                ..e
            })?;
        }
        if at != bytes.len() {
            return Err(WireError {
                offset: at,
                what: "bytes after the last record",
            });
        }
        Ok(Records { bytes, len })
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The encoded records, without an array header.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The array header that, followed by [`Records::bytes`], makes the partition's
    /// wire form.
    pub fn array_header(&self) -> Vec<u8> {
        let mut header = Vec::with_capacity(5);
        wire::write_array_header(&mut header, self.len);
        header
    }

    /// Appends one record given as its encoded bytes. The caller vouches that `record`
    /// is exactly one complete value (it came out of another `Records`).
    pub fn push_encoded(&mut self, record: &[u8]) {
        debug_assert_eq!(wire::value_len(record), Ok(record.len()));
        self.bytes.extend_from_slice(record);
        self.len += 1;
    }

    /// Appends one value written by `write` (which must write exactly one complete
    /// value: checked in debug builds).
    pub fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.bytes.len();
        write(&mut self.bytes);
        debug_assert_eq!(
            wire::value_len(&self.bytes[start..]),
            Ok(self.bytes.len() - start)
        );
        self.len += 1;
    }

    /// Appends a `[key, value]` pair from encoded parts.
    pub fn push_pair(&mut self, key: &[u8], value: &[u8]) {
        wire::write_pair(&mut self.bytes, key, value);
        self.len += 1;
    }

    /// Appends a string record (a line of text).
    pub fn push_str(&mut self, line: &str) {
        wire::write_str(&mut self.bytes, line);
        self.len += 1;
    }

    /// Appends an unsigned integer record.
    pub fn push_u64(&mut self, value: u64) {
        wire::write_u64(&mut self.bytes, value);
        self.len += 1;
    }

    /// Appends all of `other`'s records.
    pub fn append(&mut self, other: &Records) {
        self.bytes.extend_from_slice(&other.bytes);
        self.len += other.len;
    }

    /// Each record's encoded bytes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        wire::Values::new(&self.bytes).map(|r| r.expect("records are validated on the way in"))
    }

    /// Splits the records into `n` partitions of nearly equal counts, keeping order.
    pub fn split(&self, n: usize) -> Vec<Records> {
        let n = n.max(1);
        let mut parts: Vec<Records> = (0..n)
            .map(|_| Records::with_capacity(self.bytes.len() / n + 16))
            .collect();
        for (i, record) in self.iter().enumerate() {
            // Record i goes to the part whose range of indexes holds it.
            parts[i * n / self.len.max(1)].push_encoded(record);
        }
        parts
    }

    /// Merges partitions into one.
    pub fn concat<'a>(parts: impl IntoIterator<Item = &'a Records>) -> Records {
        let mut out = Records::new();
        for part in parts {
            out.append(part);
        }
        out
    }
}

/// Strings as records, one each.
impl<'a> FromIterator<&'a str> for Records {
    fn from_iter<I: IntoIterator<Item = &'a str>>(lines: I) -> Self {
        let mut records = Records::new();
        for line in lines {
            records.push_str(line);
        }
        records
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(words: &[&str]) -> Records {
        words.iter().copied().collect()
    }

    /// Everything the host does with a plugin's output bytes before trusting them.
    fn decode_everything(bytes: &[u8]) {
        if let Ok(records) = Records::from_array(bytes) {
            for record in records.iter() {
                let _ = wire::split_pair(record);
                let mut text = String::new();
                crate::render::json(record, &mut text);
                crate::render::display(record, &mut text);
            }
        }
        let _ = wire::read_array_header(bytes);
        let _ = wire::value_len(bytes);
        let _ = wire::split_pair(bytes);
    }

    proptest! {
        #[test]
        fn arbitrary_plugin_output_never_panics_the_host(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            decode_everything(&bytes);
        }

        #[test]
        fn damaged_valid_output_never_panics_the_host(
            words in proptest::collection::vec(".{0,40}", 0..20),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            cut in any::<usize>(),
        ) {
            let records: Records = words.iter().map(String::as_str).collect();
            let mut bytes = records.array_header();
            bytes.extend_from_slice(records.bytes());
            for (at, byte) in flips {
                let len = bytes.len();
                bytes[at % len] = byte;
            }
            bytes.truncate(cut % (bytes.len() + 1));
            decode_everything(&bytes);
        }
    }

    #[test]
    fn from_array_round_trips_and_rejects_bad_framing() {
        let encoded = rmp_serde::to_vec(&vec![("a", 1), ("b", 2)]).unwrap();
        let records = Records::from_array(&encoded).unwrap();
        assert_eq!(records.len(), 2);
        let mut wire = records.array_header();
        wire.extend_from_slice(records.bytes());
        assert_eq!(wire, encoded);

        let mut trailing = encoded.clone();
        trailing.push(0x01);
        assert_eq!(
            Records::from_array(&trailing).unwrap_err().what,
            "bytes after the last record"
        );
        assert!(Records::from_array(&encoded[..encoded.len() - 1]).is_err());
        assert!(Records::from_array(&[0x92, 0x01]).is_err());
    }

    #[test]
    fn split_keeps_order_and_balances_counts() {
        let words: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        let records = lines(&words.iter().map(String::as_str).collect::<Vec<_>>());
        let parts = records.split(3);
        assert_eq!(
            parts.iter().map(Records::len).collect::<Vec<_>>(),
            [4, 3, 3]
        );
        assert_eq!(Records::concat(&parts), records);
        assert_eq!(
            Records::new().split(2),
            vec![Records::new(), Records::new()]
        );
    }
}
