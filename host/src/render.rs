//! Turning encoded records into text: JSON for the files sink, and Spark's `print`
//! layout, where a pair shows as `(key,value)` and a string as itself, its control
//! characters escaped (data cannot drive the terminal).
//!
//! The host never needs a record's type: the MessagePack framing says enough to write
//! it. Rendering is iterative-depth-bounded, so a hostile plugin's output of nested
//! arrays cannot overflow the stack.

use std::fmt::Write as _;

const MAX_DEPTH: usize = 128;

/// A cursor over one encoded value.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> u8 {
        let b = self.buf.get(self.at).copied().unwrap_or(0xc0);
        self.at += 1;
        b
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let end = (self.at + n).min(self.buf.len());
        let out = &self.buf[self.at.min(end)..end];
        self.at = end;
        out
    }

    fn uint(&mut self, n: usize) -> u64 {
        self.take(n)
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | *b as u64)
    }

    fn int(&mut self, n: usize) -> i64 {
        let raw = self.uint(n);
        let shift = 64 - 8 * n as u32;
        ((raw << shift) as i64) >> shift
    }
}

/// How strings are written: quoted and escaped (JSON), or bare (print, at the top).
#[derive(Clone, Copy, PartialEq)]
enum Style {
    Json,
    Bare,
}

fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_float(out: &mut String, f: f64) {
    if f.is_finite() {
        let _ = write!(out, "{f:?}");
    } else {
        out.push_str("null");
    }
}

fn value(r: &mut Reader<'_>, out: &mut String, style: Style, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("null");
        return;
    }
    let b = r.byte();
    let (items, is_map) = match b {
        0x00..=0x7f => {
            return {
                let _ = write!(out, "{b}");
            };
        }
        0xe0..=0xff => {
            return {
                let _ = write!(out, "{}", b as i8);
            };
        }
        0xc0 => return out.push_str("null"),
        0xc2 => return out.push_str("false"),
        0xc3 => return out.push_str("true"),
        0xcc..=0xcf => {
            return {
                let n = r.uint(1 << (b - 0xcc));
                let _ = write!(out, "{n}");
            };
        }
        0xd0..=0xd3 => {
            return {
                let n = r.int(1 << (b - 0xd0));
                let _ = write!(out, "{n}");
            };
        }
        0xca => return write_float(out, f32::from_bits(r.uint(4) as u32) as f64),
        0xcb => return write_float(out, f64::from_bits(r.uint(8))),
        0xa0..=0xbf | 0xd9..=0xdb => {
            let len = match b {
                0xd9 => r.uint(1),
                0xda => r.uint(2),
                0xdb => r.uint(4),
                _ => (b & 0x1f) as u64,
            } as usize;
            let s = String::from_utf8_lossy(r.take(len));
            match style {
                Style::Json => write_json_str(out, &s),
                // Shown on a terminal: data cannot move the cursor or retitle it.
                Style::Bare => out.push_str(&escape_controls(&s)),
            }
            return;
        }
        0xc4..=0xc6 => {
            let len = r.uint(1 << (b - 0xc4)) as usize;
            let bytes = r.take(len);
            out.push('[');
            for (i, byte) in bytes.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{byte}");
            }
            out.push(']');
            return;
        }
        0xc7..=0xc9 | 0xd4..=0xd8 => {
            // Extension types have no JSON form; their bytes are skipped.
            let len = match b {
                0xc7 => r.uint(1) as usize,
                0xc8 => r.uint(2) as usize,
                0xc9 => r.uint(4) as usize,
                _ => 1 << (b - 0xd4),
            };
            r.take(1 + len);
            return out.push_str("null");
        }
        0x90..=0x9f => ((b & 0x0f) as usize, false),
        0xdc => (r.uint(2) as usize, false),
        0xdd => (r.uint(4) as usize, false),
        0x80..=0x8f => ((b & 0x0f) as usize, true),
        0xde => (r.uint(2) as usize, true),
        0xdf => (r.uint(4) as usize, true),
        0xc1 => return out.push_str("null"),
    };
    if is_map {
        out.push('{');
        for i in 0..items {
            if i > 0 {
                out.push(',');
            }
            // JSON object keys are strings: a non-string key is written as the string
            // of its JSON.
            let key_start = r.at;
            let key_is_str = matches!(r.buf.get(key_start), Some(0xa0..=0xbf | 0xd9..=0xdb));
            if key_is_str {
                value(r, out, Style::Json, depth + 1);
            } else {
                let mut key = String::new();
                value(r, &mut key, Style::Json, depth + 1);
                write_json_str(out, &key);
            }
            out.push(':');
            value(r, out, Style::Json, depth + 1);
        }
        out.push('}');
    } else {
        out.push('[');
        for i in 0..items {
            if i > 0 {
                out.push(',');
            }
            value(r, out, Style::Json, depth + 1);
        }
        out.push(']');
    }
}

/// `message` with every control character (newline, carriage return, escape...) written
/// as a Rust escape (`\n`, `\u{1b}`), so that it stays one line and cannot drive a
/// terminal.
pub fn escape_controls(message: &str) -> std::borrow::Cow<'_, str> {
    if !message.chars().any(char::is_control) {
        return message.into();
    }
    let mut out = String::with_capacity(message.len() + 8);
    for c in message.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// Appends the JSON text of one encoded record.
pub fn json(record: &[u8], out: &mut String) {
    value(&mut Reader { buf: record, at: 0 }, out, Style::Json, 0);
}

/// Appends one record as Spark's `print` shows it: `(key,value)` for a pair, a string
/// as itself, anything else as JSON.
pub fn display(record: &[u8], out: &mut String) {
    if let Ok((key, val)) = sluice_sdk::wire::split_pair(record) {
        out.push('(');
        value(&mut Reader { buf: key, at: 0 }, out, Style::Bare, 0);
        out.push(',');
        value(&mut Reader { buf: val, at: 0 }, out, Style::Bare, 0);
        out.push(')');
    } else {
        value(&mut Reader { buf: record, at: 0 }, out, Style::Bare, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[test]
    fn control_characters_are_escaped_and_plain_text_is_borrowed() {
        assert_eq!(
            escape_controls("a\nINFO forged\r\x1b[2J"),
            "a\\nINFO forged\\r\\u{1b}[2J"
        );
        assert!(matches!(
            escape_controls("plain, ünïcode"),
            std::borrow::Cow::Borrowed(_)
        ));
        let mut shown = String::new();
        display(&rmp_serde::to_vec("\x1b]0;owned\x07").unwrap(), &mut shown);
        assert_eq!(shown, "\\u{1b}]0;owned\\u{7}");
    }

    fn as_json<T: Serialize>(v: &T) -> String {
        let mut out = String::new();
        json(&rmp_serde::to_vec_named(v).unwrap(), &mut out);
        out
    }

    fn as_display<T: Serialize>(v: &T) -> String {
        let mut out = String::new();
        display(&rmp_serde::to_vec_named(v).unwrap(), &mut out);
        out
    }

    #[derive(Serialize)]
    struct Hit {
        status: u16,
        path: String,
        bytes: Option<u64>,
        ratio: f32,
    }

    #[test]
    fn json_matches_serde_json_for_common_shapes() {
        let hit = Hit {
            status: 404,
            path: "/a \"b\"\n".into(),
            bytes: None,
            ratio: 0.5,
        };
        let text = as_json(&hit);
        assert_eq!(
            text,
            r#"{"status":404,"path":"/a \"b\"\n","bytes":null,"ratio":0.5}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["path"], "/a \"b\"\n");
        assert_eq!(as_json(&("word", 3)), r#"["word",3]"#);
        assert_eq!(
            as_json(&(-5i64, u64::MAX, -300i32, true)),
            format!("[-5,{},-300,true]", u64::MAX)
        );
        assert_eq!(
            as_json(&std::collections::BTreeMap::from([(1, "a")])),
            r#"{"1":"a"}"#
        );
        assert_eq!(as_json(&f64::NAN), "null");
    }

    #[test]
    fn display_follows_spark_print() {
        assert_eq!(as_display(&("word", 3)), "(word,3)");
        assert_eq!(as_display(&"a line"), "a line");
        assert_eq!(as_display(&(200, vec!["x", "y"])), r#"(200,["x","y"])"#);
        assert_eq!(as_display(&42), "42");
    }

    #[test]
    fn hostile_nesting_is_cut_off_not_a_stack_overflow() {
        let mut deep = vec![0x91u8; 100_000];
        deep.push(0x01);
        let mut out = String::new();
        json(&deep, &mut out);
        assert!(out.starts_with("[[[[") && out.contains("null"));
    }
}
