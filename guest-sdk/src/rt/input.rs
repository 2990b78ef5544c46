//! Decoding a partition's records inside the guest, borrowing from the input buffer
//! where the target type allows (`&str`, `&[u8]`).

use crate::wire;
use serde::Deserialize;

/// The records of one call's input partition.
pub struct Input<'a> {
    rest: &'a [u8],
    remaining: usize,
    index: usize,
}

impl<'a> Input<'a> {
    /// Reads the partition's array header.
    pub fn new(buf: &'a [u8]) -> Result<Self, String> {
        let (len, header) =
            wire::read_array_header(buf).map_err(|e| format!("input partition: {e}"))?;
        Ok(Input {
            rest: &buf[header..],
            remaining: len,
            index: 0,
        })
    }

    /// How many records are left.
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// The index of the record most recently returned, for error messages.
    pub fn index(&self) -> usize {
        self.index.saturating_sub(1)
    }

    /// The next record's encoded bytes.
    pub fn next_raw(&mut self) -> Option<Result<&'a [u8], String>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        self.index += 1;
        Some(match wire::value_len(self.rest) {
            Ok(len) => {
                let (record, rest) = self.rest.split_at(len);
                self.rest = rest;
                Ok(record)
            }
            Err(e) => {
                self.remaining = 0;
                Err(self.error(e))
            }
        })
    }

    /// The next record, decoded.
    pub fn next_record<T: Deserialize<'a>>(&mut self) -> Option<Result<T, String>> {
        self.next_decoded().map(|r| r.map(|(_, value)| value))
    }

    /// The next record, decoded, with its encoded bytes.
    pub fn next_decoded<T: Deserialize<'a>>(&mut self) -> Option<Result<(&'a [u8], T), String>> {
        Some(self.next_raw()?.and_then(|raw| {
            let value = rmp_serde::from_slice(raw).map_err(|e| self.error(e))?;
            Ok((raw, value))
        }))
    }

    /// The next record as a `[key, value]` pair whose key stays encoded.
    pub fn next_pair<V: Deserialize<'a>>(&mut self) -> Option<Result<(&'a [u8], V), String>> {
        Some(self.next_raw()?.and_then(|raw| {
            let (key, value) = wire::split_pair(raw).map_err(|e| self.error(e))?;
            let value = rmp_serde::from_slice(value).map_err(|e| self.error(e))?;
            Ok((key, value))
        }))
    }

    /// The next record as an array of exactly `N` items (a keyed kind's
    /// `[key, ...]`), split into each item's encoded bytes. `shape` names the expected
    /// array for the error message, as `ABI.md` writes it.
    pub fn next_item<const N: usize>(
        &mut self,
        shape: &str,
    ) -> Option<Result<[&'a [u8]; N], String>> {
        Some(self.next_raw()?.and_then(|raw| {
            let (len, header) = wire::read_array_header(raw).map_err(|e| self.error(e))?;
            if len != N {
                return Err(self.error(format!("expected {shape}, found an array of {len}")));
            }
            let mut parts = [&raw[..0]; N];
            let mut rest = &raw[header..];
            for part in &mut parts {
                let len = wire::value_len(rest).map_err(|e| self.error(e))?;
                (*part, rest) = rest.split_at(len);
            }
            Ok(parts)
        }))
    }

    /// Decodes one part of the current record (see [`Input::next_item`]); an error
    /// names the record and the part (`what`).
    pub fn decode_part<T: Deserialize<'a>>(&self, part: &'a [u8], what: &str) -> Result<T, String> {
        rmp_serde::from_slice(part).map_err(|e| self.error(format!("{what}: {e}")))
    }

    /// An error message about the current record.
    pub fn error(&self, cause: impl std::fmt::Display) -> String {
        format!("record {}: {cause}", self.index())
    }
}
