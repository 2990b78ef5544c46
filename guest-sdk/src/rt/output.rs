//! Encoding a call's output records inside the guest, straight into the output buffer.

use crate::wire;
use serde::Serialize;

/// The records a call produces. The array header is reserved up front and its count
/// filled in by [`Output::finish`], so records are encoded once, in place.
pub struct Output<'b> {
    buf: &'b mut Vec<u8>,
    header_at: usize,
    count: usize,
}

impl<'b> Output<'b> {
    pub(crate) fn new(buf: &'b mut Vec<u8>) -> Self {
        let header_at = wire::reserve_array_header(buf);
        Output {
            buf,
            header_at,
            count: 0,
        }
    }

    /// Encodes and appends a record. Structs are encoded as maps with field names.
    pub fn push<T: Serialize + ?Sized>(&mut self, record: &T) -> Result<(), String> {
        rmp_serde::encode::write_named(self.buf, record).map_err(|e| e.to_string())?;
        self.count += 1;
        Ok(())
    }

    /// Appends a record that is already encoded.
    pub fn push_raw(&mut self, record: &[u8]) {
        self.buf.extend_from_slice(record);
        self.count += 1;
    }

    /// Appends a `[key, value]` pair whose parts are both already encoded.
    pub fn push_raw_pair(&mut self, key: &[u8], value: &[u8]) {
        self.buf.push(0x92);
        self.buf.extend_from_slice(key);
        self.buf.extend_from_slice(value);
        self.count += 1;
    }

    /// Appends a `[key, value]` pair whose key is already encoded.
    pub fn push_pair<V: Serialize + ?Sized>(
        &mut self,
        key: &[u8],
        value: &V,
    ) -> Result<(), String> {
        self.buf.push(0x92);
        self.buf.extend_from_slice(key);
        rmp_serde::encode::write_named(self.buf, value).map_err(|e| e.to_string())?;
        self.count += 1;
        Ok(())
    }

    /// Appends a `[key, state, [records]]` item whose key is already encoded: `state`
    /// is encoded (nil for `None`) and `records` holds `count` records already encoded.
    pub fn push_state_records<S: Serialize>(
        &mut self,
        key: &[u8],
        state: Option<&S>,
        count: usize,
        records: &[u8],
    ) -> Result<(), String> {
        self.buf.push(0x93);
        self.buf.extend_from_slice(key);
        rmp_serde::encode::write_named(self.buf, &state).map_err(|e| e.to_string())?;
        wire::write_array_header(self.buf, count);
        self.buf.extend_from_slice(records);
        self.count += 1;
        Ok(())
    }

    pub(crate) fn finish(self) {
        wire::patch_array_header(self.buf, self.header_at, self.count);
    }
}
