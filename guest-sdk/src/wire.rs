//! The plugin ABI's wire format: the one versioned module that both sides of the
//! wasm boundary share.
//!
//! `guest-sdk/ABI.md` is the normative description; this module is its code. A
//! partition crosses the boundary as one MessagePack array whose items are the
//! records; a record of a pair stream is a 2-array `[key, value]`. The host never
//! decodes values: it walks the framing with [`value_len`], hashes a key's encoded
//! bytes ([`split_pair`]) and moves records as byte slices.
//!
//! Everything here is plain, allocation-free slice code so that it compiles for
//! both the host and `wasm32-unknown-unknown`.

use std::fmt;

/// The version of the plugin ABI this crate speaks. A plugin built against another
/// version is refused by the host at load time.
pub const ABI_VERSION: u32 = 1;

/// Name of the custom wasm section that holds a plugin's manifest.
pub const MANIFEST_SECTION: &str = "sluice_manifest";

/// Prefix of the export that runs a plugin function: `sluice_fn_<name>`.
pub const EXPORT_PREFIX: &str = "sluice_fn_";

/// Import module under which the host provides its functions (`log`, `panic`).
pub const IMPORT_MODULE: &str = "sluice";

/// Status a function export returns when its output buffer holds the result.
pub const STATUS_OK: u32 = 0;
/// Status a function export returns when its output buffer holds a UTF-8 error
/// message (a record that did not decode, or an `Err` the function returned).
pub const STATUS_ERROR: u32 = 1;

/// What a plugin function does, as declared by its attribute and its manifest
/// entry. The host checks every stage's `op` against this before data flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// One record in, one record out.
    Map,
    /// One record in, any number out.
    FlatMap,
    /// One record in, kept or dropped.
    Filter,
    /// A whole partition in, any number of records out.
    MapPartition,
    /// An associative combine of two values of the same type.
    Reduce,
    /// The inverse of a reduce: takes a value back out of a combination.
    InverseReduce,
    /// A key's new state from its old state and the batch's values (update_state_by_key).
    UpdateState,
    /// Records mapped with access to their key's state (map_with_state).
    MapWithState,
    /// A whole partition and the batch's context in, any number of records out.
    Transform,
    /// A key's state turned from an older version's encoding into this version's, run
    /// once per key when the plugin is swapped in.
    MigrateState,
    /// A flat_map whose `(key, value)` output is combined per key in the guest with a
    /// reduce function of the same plugin; named `<flat_map>:<reduce>`.
    FlatMapCombine,
}

impl Kind {
    /// Every kind, in the order the documentation lists them.
    pub const ALL: [Kind; 11] = [
        Kind::Map,
        Kind::FlatMap,
        Kind::Filter,
        Kind::MapPartition,
        Kind::Reduce,
        Kind::InverseReduce,
        Kind::UpdateState,
        Kind::MapWithState,
        Kind::Transform,
        Kind::MigrateState,
        Kind::FlatMapCombine,
    ];

    /// The kind's name as written in attributes, manifests and pipeline files.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Map => "map",
            Kind::FlatMap => "flat_map",
            Kind::Filter => "filter",
            Kind::MapPartition => "map_partition",
            Kind::Reduce => "reduce",
            Kind::InverseReduce => "inverse_reduce",
            Kind::UpdateState => "update_state",
            Kind::MapWithState => "map_with_state",
            Kind::Transform => "transform",
            Kind::MigrateState => "migrate_state",
            Kind::FlatMapCombine => "flat_map_combine",
        }
    }

    /// The kind named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `mode` argument of a [`Kind::Reduce`] export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ReduceMode {
    /// Input is `[key, value]` pairs; output is one pair per distinct key, in the
    /// order keys were first seen (reduce_by_key).
    Keyed = 0,
    /// Input is values; output is zero or one value (reduce).
    Whole = 1,
}

impl ReduceMode {
    /// The mode for a raw `mode` argument.
    pub fn from_raw(raw: u32) -> Option<ReduceMode> {
        match raw {
            0 => Some(ReduceMode::Keyed),
            1 => Some(ReduceMode::Whole),
            _ => None,
        }
    }
}

/// One entry of a plugin manifest: a function the plugin exports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestEntry {
    /// ABI version the entry was generated for.
    pub abi: u32,
    /// What the function does.
    pub kind: Kind,
    /// The function's name (the export is `sluice_fn_<name>`).
    pub name: String,
    /// The Rust signature, for people (`sluice plugin inspect`, error hints).
    pub signature: String,
}

impl ManifestEntry {
    /// The name of the wasm export that runs this function.
    pub fn export_name(&self) -> String {
        format!("{EXPORT_PREFIX}{}", self.name)
    }
}

/// Parses a manifest section: one line per function,
/// `abi<version>\t<kind>\t<name>\t<signature>\n`.
pub fn parse_manifest(section: &[u8]) -> Result<Vec<ManifestEntry>, String> {
    let text = std::str::from_utf8(section).map_err(|_| "manifest is not UTF-8".to_string())?;
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        let bad = |what: &str| format!("manifest line {}: {what}: {line:?}", number + 1);
        let mut fields = line.splitn(4, '\t');
        let (Some(abi), Some(kind), Some(name)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(bad("expected abi, kind and name separated by tabs"));
        };
        let abi = abi
            .strip_prefix("abi")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("bad ABI version"))?;
        let kind = Kind::parse(kind).ok_or_else(|| bad("unknown kind"))?;
        entries.push(ManifestEntry {
            abi,
            kind,
            name: name.to_string(),
            signature: fields.next().unwrap_or("").to_string(),
        });
    }
    Ok(entries)
}

/// A framing error in MessagePack bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    /// Byte offset, within the slice that was read, where the problem is.
    pub offset: usize,
    /// What was wrong there.
    pub what: &'static str,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed MessagePack at byte {}: {}",
            self.offset, self.what
        )
    }
}

impl std::error::Error for WireError {}

fn be(buf: &[u8], at: usize, width: usize) -> Result<usize, WireError> {
    let bytes = buf.get(at..at + width).ok_or(WireError {
        offset: at,
        what: "truncated length",
    })?;
    Ok(bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize))
}

/// The shape of one MessagePack header: how many bytes the header itself takes,
/// how many payload bytes follow it, and how many nested values follow those.
struct Header {
    header: usize,
    payload: usize,
    children: usize,
}

fn header(buf: &[u8], at: usize) -> Result<Header, WireError> {
    let b = *buf.get(at).ok_or(WireError {
        offset: at,
        what: "unexpected end of data",
    })?;
    let h = |header, payload, children| {
        Ok(Header {
            header,
            payload,
            children,
        })
    };
    match b {
        0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => h(1, 0, 0),
        0x80..=0x8f => h(1, 0, 2 * (b & 0x0f) as usize),
        0x90..=0x9f => h(1, 0, (b & 0x0f) as usize),
        0xa0..=0xbf => h(1, (b & 0x1f) as usize, 0),
        0xc4 | 0xd9 => h(2, be(buf, at + 1, 1)?, 0),
        0xc5 | 0xda => h(3, be(buf, at + 1, 2)?, 0),
        0xc6 | 0xdb => h(5, be(buf, at + 1, 4)?, 0),
        0xc7 => h(3, be(buf, at + 1, 1)?, 0),
        0xc8 => h(4, be(buf, at + 1, 2)?, 0),
        0xc9 => h(6, be(buf, at + 1, 4)?, 0),
        0xca | 0xce | 0xd2 => h(1, 4, 0),
        0xcb | 0xcf | 0xd3 => h(1, 8, 0),
        0xcc | 0xd0 => h(1, 1, 0),
        0xcd | 0xd1 => h(1, 2, 0),
        0xd4 => h(2, 1, 0),
        0xd5 => h(2, 2, 0),
        0xd6 => h(2, 4, 0),
        0xd7 => h(2, 8, 0),
        0xd8 => h(2, 16, 0),
        0xdc => h(3, 0, be(buf, at + 1, 2)?),
        0xdd => h(5, 0, be(buf, at + 1, 4)?),
        0xde => h(3, 0, 2 * be(buf, at + 1, 2)?),
        0xdf => h(5, 0, 2 * be(buf, at + 1, 4)?),
        0xc1 => Err(WireError {
            offset: at,
            what: "byte 0xc1 is never used",
        }),
    }
}

/// The length in bytes of the one MessagePack value that starts `buf`.
///
/// Iterative, so that deeply nested input cannot overflow the stack.
pub fn value_len(buf: &[u8]) -> Result<usize, WireError> {
    let mut at = 0usize;
    let mut pending = 1usize;
    while pending > 0 {
        let h = header(buf, at)?;
        at = at
            .checked_add(h.header + h.payload)
            .filter(|end| *end <= buf.len())
            .ok_or(WireError {
                offset: at,
                what: "value runs past the end of data",
            })?;
        // A header cannot announce more children than there are bytes left.
        if h.children > buf.len() - at {
            return Err(WireError {
                offset: at,
                what: "container longer than the data",
            });
        }
        pending = pending - 1 + h.children;
    }
    Ok(at)
}

/// Reads an array header: the number of items and the header's length in bytes.
pub fn read_array_header(buf: &[u8]) -> Result<(usize, usize), WireError> {
    match buf.first() {
        Some(0x90..=0x9f) | Some(0xdc) | Some(0xdd) => {
            let h = header(buf, 0)?;
            Ok((h.children, h.header))
        }
        Some(_) => Err(WireError {
            offset: 0,
            what: "expected an array",
        }),
        None => Err(WireError {
            offset: 0,
            what: "expected an array, found no data",
        }),
    }
}

/// Appends the smallest array header for `len` items.
pub fn write_array_header(out: &mut Vec<u8>, len: usize) {
    if len < 16 {
        out.push(0x90 | len as u8);
    } else if len <= u16::MAX as usize {
        out.push(0xdc);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// Length of the fixed-size array header written by [`reserve_array_header`].
pub const ARRAY32_HEADER_LEN: usize = 5;

/// Appends a 5-byte array header whose count is filled in later by
/// [`patch_array_header`]: outputs whose length is not known up front use it.
pub fn reserve_array_header(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0xdd, 0, 0, 0, 0]);
    at
}

/// Writes `len` into the header reserved at `at`.
pub fn patch_array_header(out: &mut [u8], at: usize, len: usize) {
    out[at + 1..at + 5].copy_from_slice(&(len as u32).to_be_bytes());
}

/// Appends a string value.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= u8::MAX as usize {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= u16::MAX as usize {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

/// Appends an unsigned integer value in its smallest encoding.
pub fn write_u64(out: &mut Vec<u8>, v: u64) {
    if v < 128 {
        out.push(v as u8);
    } else if v <= u8::MAX as u64 {
        out.extend_from_slice(&[0xcc, v as u8]);
    } else if v <= u16::MAX as u64 {
        out.push(0xcd);
        out.extend_from_slice(&(v as u16).to_be_bytes());
    } else if v <= u32::MAX as u64 {
        out.push(0xce);
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// Reads an unsigned integer value (any width; negative numbers are refused).
pub fn read_u64(buf: &[u8]) -> Result<u64, WireError> {
    let bad = WireError {
        offset: 0,
        what: "expected an unsigned integer",
    };
    let b = *buf.first().ok_or(bad.clone())?;
    let width = match b {
        0x00..=0x7f => return Ok(b as u64),
        0xcc => 1,
        0xcd => 2,
        0xce => 4,
        0xcf => 8,
        0xd0..=0xd3 => {
            let width = 1usize << (b - 0xd0);
            let raw = be(buf, 1, width)? as u64;
            let shift = 64 - 8 * width as u32;
            let signed = ((raw << shift) as i64) >> shift;
            return u64::try_from(signed).map_err(|_| bad);
        }
        _ => return Err(bad),
    };
    Ok(be(buf, 1, width)? as u64)
}

/// Splits an encoded `[key, value]` pair into the key's and the value's bytes.
pub fn split_pair(record: &[u8]) -> Result<(&[u8], &[u8]), WireError> {
    let (len, header) = read_array_header(record)?;
    if len != 2 {
        return Err(WireError {
            offset: 0,
            what: "expected a [key, value] pair",
        });
    }
    let rest = &record[header..];
    let key_len = value_len(rest)?;
    let (key, value) = rest.split_at(key_len);
    let value_len = value_len(value)?;
    Ok((key, &value[..value_len]))
}

/// Appends an encoded `[key, value]` pair made of already-encoded parts.
pub fn write_pair(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    out.push(0x92);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
}

/// Iterates over concatenated encoded values, yielding each one's bytes.
#[derive(Clone, Debug)]
pub struct Values<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Values<'a> {
    /// Values laid end to end in `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Values {
            rest: buf,
            offset: 0,
        }
    }
}

impl<'a> Iterator for Values<'a> {
    type Item = Result<&'a [u8], WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match value_len(self.rest) {
            Ok(len) => {
                let (value, rest) = self.rest.split_at(len);
                self.rest = rest;
                self.offset += len;
                Some(Ok(value))
            }
            Err(e) => {
                let offset = self.offset + e.offset;
                self.rest = &[];
                Some(Err(WireError { offset, ..e }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
        rmp_serde::to_vec_named(v).unwrap()
    }

    #[test]
    fn value_len_matches_rmp_serde_for_many_shapes() {
        let long = "x".repeat(70_000);
        let samples: Vec<Vec<u8>> = vec![
            encode(&0u8),
            encode(&-1i8),
            encode(&-200i64),
            encode(&u64::MAX),
            encode(&1.5f64),
            encode(&"hello"),
            encode(&long),
            encode(&("word", 3u64)),
            encode(&vec![1u32; 20]),
            encode(&vec![7u16; 70_000]),
            encode(&Some(vec![("a", vec![1.0f32, 2.0])])),
            encode(&std::collections::BTreeMap::from([("k", 1), ("j", 2)])),
            encode(&serde_bytes_like(300)),
        ];
        for sample in samples {
            let mut padded = sample.clone();
            padded.extend_from_slice(&[0xc0, 0xc0]);
            assert_eq!(value_len(&padded), Ok(sample.len()), "{sample:02x?}");
        }
    }

    fn serde_bytes_like(n: usize) -> Vec<u8> {
        let mut out = vec![0xc5];
        out.extend_from_slice(&(n as u16).to_be_bytes());
        out.extend(std::iter::repeat_n(9, n));
        out
    }

    #[test]
    fn truncated_and_hostile_input_is_an_error_not_a_panic() {
        let full = encode(&("word", "value"));
        for cut in 0..full.len() {
            assert!(value_len(&full[..cut]).is_err(), "cut at {cut}");
        }
        assert!(value_len(&[0xc1]).is_err());
        // An array that claims four billion items in five bytes.
        assert!(value_len(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let mut deep = vec![0x91; 1_000_000];
        deep.push(0x01);
        assert_eq!(value_len(&deep), Ok(deep.len()));
    }

    #[test]
    fn array_headers_round_trip_at_every_width() {
        for len in [0, 15, 16, 65_535, 65_536] {
            let mut out = Vec::new();
            write_array_header(&mut out, len);
            assert_eq!(read_array_header(&out), Ok((len, out.len())));
        }
        let mut out = Vec::new();
        let at = reserve_array_header(&mut out);
        patch_array_header(&mut out, at, 70_000);
        assert_eq!(read_array_header(&out), Ok((70_000, ARRAY32_HEADER_LEN)));
    }

    #[test]
    fn hand_written_scalars_decode_with_rmp_serde() {
        for s in [
            "",
            "short",
            &"y".repeat(31),
            &"z".repeat(300),
            &"w".repeat(70_000),
        ] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(rmp_serde::from_slice::<String>(&out).unwrap(), s);
        }
        for v in [
            0,
            127,
            128,
            255,
            256,
            65_535,
            65_536,
            u32::MAX as u64 + 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            write_u64(&mut out, v);
            assert_eq!(rmp_serde::from_slice::<u64>(&out).unwrap(), v);
            assert_eq!(read_u64(&out), Ok(v));
        }
        assert_eq!(read_u64(&encode(&5i64)), Ok(5));
        assert!(read_u64(&encode(&-5i64)).is_err());
    }

    #[test]
    fn pairs_split_into_key_and_value_bytes() {
        let pair = encode(&("word", vec![1, 2, 3]));
        let (key, value) = split_pair(&pair).unwrap();
        assert_eq!(key, encode(&"word"));
        assert_eq!(value, encode(&vec![1, 2, 3]));
        let mut rebuilt = Vec::new();
        write_pair(&mut rebuilt, key, value);
        assert_eq!(rebuilt, pair);
        assert!(split_pair(&encode(&(1, 2, 3))).is_err());
        assert!(split_pair(&encode(&"not a pair")).is_err());
    }

    #[test]
    fn values_iterates_and_reports_offsets() {
        let mut buf = encode(&"a");
        buf.extend(encode(&42u32));
        buf.extend(encode(&("k", 1)));
        let values: Vec<_> = Values::new(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(values.len(), 3);
        buf.push(0xd9);
        let last = Values::new(&buf).last().unwrap();
        // The length byte after the str8 marker is missing: the error points at it.
        assert_eq!(last.unwrap_err().offset, buf.len());
    }

    #[cfg(feature = "guest")]
    #[test]
    fn the_macros_write_the_abi_version_this_crate_speaks() {
        assert_eq!(sluice_sdk_macros::__abi_version!(), ABI_VERSION);
    }

    #[test]
    fn manifest_lines_parse() {
        let section = b"abi1\tflat_map\tsplit_words\tfn split_words(line: &str) -> Vec<(&str, u64)>\nabi1\treduce\tsum\tfn sum(a: u64, b: u64) -> u64\n";
        let entries = parse_manifest(section).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].kind, Kind::FlatMap);
        assert_eq!(entries[1].export_name(), "sluice_fn_sum");
        assert!(parse_manifest(b"abi1\tteleport\tx\t\n").is_err());
        assert!(parse_manifest(b"garbage\n").is_err());
    }
}
