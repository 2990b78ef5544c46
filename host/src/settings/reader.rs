//! Typed reads of TOML tables that record a diagnostic instead of stopping, and notice
//! keys nobody read (typos) at the end.

use super::units;
use super::{Diagnostics, LineIndex, Location, did_you_mean};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml_edit::{Item, Table, Value};

/// Shared state of one file's read: where things are, and what went wrong.
pub struct Context<'a> {
    pub lines: LineIndex<'a>,
    pub diagnostics: RefCell<Diagnostics>,
}

impl Context<'_> {
    pub fn error(&self, at: Location, key: &str, message: impl Into<String>, hint: Option<String>) {
        self.diagnostics.borrow_mut().push(at, key, message, hint);
    }
}

/// What reading a section's keys may need besides its table.
pub struct Reading<'a> {
    /// The pipeline file's directory, which relative paths start from.
    pub base: &'a Path,
    /// The pipeline's name.
    pub pipeline: &'a str,
}

/// A table being read: `[sources.lines]`, say. Every key read is remembered so that
/// [`TableReader::finish`] can report the others as unknown.
pub struct TableReader<'c, 'a> {
    cx: &'c Context<'a>,
    table: &'c Table,
    name: String,
    path: String,
    at: Location,
    read: RefCell<Vec<&'static str>>,
}

impl<'c, 'a> TableReader<'c, 'a> {
    /// A reader of the table `name` in `section` (`sources`, say), or of a top-level
    /// table when `section` is empty.
    pub fn new(
        cx: &'c Context<'a>,
        table: &'c Table,
        section: &str,
        name: &str,
        at: Location,
    ) -> Self {
        let path = if section.is_empty() {
            name.to_string()
        } else {
            format!("{section}.{name}")
        };
        TableReader {
            cx,
            table,
            name: name.to_string(),
            path,
            at,
            read: RefCell::new(Vec::new()),
        }
    }

    /// The table's own name (`lines` in `[sources.lines]`).
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// Where the table is.
    pub fn at(&self) -> Location {
        self.at
    }

    /// The dotted path of `key` in this table.
    pub fn key_path(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn value(&self, key: &'static str) -> Option<(&'c Value, Location)> {
        self.read.borrow_mut().push(key);
        let (_, item) = self.table.get_key_value(key)?;
        let at = self.cx.lines.locate(item.span());
        match item {
            Item::Value(value) => Some((value, at)),
            _ => {
                self.cx.error(
                    at,
                    &self.key_path(key),
                    "expected a value, found a table",
                    None,
                );
                None
            }
        }
    }

    /// `key`'s raw item, a value or a table, for settings that are tables (an inline
    /// `{ ... }` or a `[section.name.key]` section).
    pub fn item(&self, key: &'static str) -> Option<(&'c Item, Location)> {
        self.read.borrow_mut().push(key);
        let item = self.table.get(key)?;
        Some((item, self.cx.lines.locate(item.span())))
    }

    /// Records a problem at `at`, for `key` of this table.
    pub fn error_at(
        &self,
        at: Location,
        key: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.cx.error(at, &self.key_path(key), message, hint);
    }

    /// The location of a span of the file.
    pub fn locate(&self, span: Option<std::ops::Range<usize>>) -> Location {
        self.cx.lines.locate(span)
    }

    /// Where `key`'s value is, or the table's location when it is absent.
    pub fn location_of(&self, key: &str) -> Location {
        self.table
            .get(key)
            .map_or(self.at, |item| self.cx.lines.locate(item.span()))
    }

    /// Whether the table has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// Counts `key` as read, so that [`TableReader::finish`] does not call it unknown
    /// (it was reported some other way).
    pub fn mark_read(&self, key: &'static str) {
        self.read.borrow_mut().push(key);
    }

    /// Reports a problem with `key`.
    pub fn error(&self, key: &str, message: impl Into<String>, hint: Option<String>) {
        self.cx
            .error(self.location_of(key), &self.key_path(key), message, hint);
    }

    fn wrong_type(&self, key: &str, at: Location, expected: &str, value: &Value) {
        self.cx.error(
            at,
            &self.key_path(key),
            format!("expected {expected}, found {}", value.type_name()),
            None,
        );
    }

    pub fn string(&self, key: &'static str) -> Option<(String, Location)> {
        let (value, at) = self.value(key)?;
        match value.as_str() {
            Some(s) => Some((s.to_string(), at)),
            None => {
                self.wrong_type(key, at, "a string", value);
                None
            }
        }
    }

    pub fn required_string(&self, key: &'static str, hint: &str) -> Option<(String, Location)> {
        if self.table.get(key).is_none() {
            self.read.borrow_mut().push(key);
            self.cx.error(
                self.at,
                &self.path,
                format!("missing key `{key}`"),
                Some(hint.to_string()),
            );
            return None;
        }
        self.string(key)
    }

    pub fn integer(&self, key: &'static str, min: i64) -> Option<i64> {
        let (value, at) = self.value(key)?;
        match value.as_integer() {
            Some(n) if n >= min => Some(n),
            Some(n) => {
                self.cx.error(
                    at,
                    &self.key_path(key),
                    format!("must be at least {min}, found {n}"),
                    None,
                );
                None
            }
            None => {
                self.wrong_type(key, at, "an integer", value);
                None
            }
        }
    }

    /// An integer in `min..=max`; `why` says what the upper bound protects.
    pub fn integer_in(&self, key: &'static str, min: i64, max: i64, why: &str) -> Option<i64> {
        let n = self.integer(key, min)?;
        if n > max {
            let (_, at) = self.value(key)?;
            self.cx.error(
                at,
                &self.key_path(key),
                format!("must be at most {max}, found {n}"),
                Some(why.to_string()),
            );
            return None;
        }
        Some(n)
    }

    pub fn boolean(&self, key: &'static str) -> Option<bool> {
        let (value, at) = self.value(key)?;
        value.as_bool().or_else(|| {
            self.wrong_type(key, at, "true or false", value);
            None
        })
    }

    pub fn duration(&self, key: &'static str) -> Option<Duration> {
        let (text, at) = self.string(key)?;
        match units::parse_duration(&text) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) => {
                self.cx
                    .error(at, &self.key_path(key), "must be longer than zero", None);
                None
            }
            Err(e) => {
                self.cx.error(
                    at,
                    &self.key_path(key),
                    e,
                    Some("write it like \"500ms\", \"1s\" or \"2m\"".into()),
                );
                None
            }
        }
    }

    pub fn bytes(&self, key: &'static str) -> Option<u64> {
        let (text, at) = self.string(key)?;
        match units::parse_bytes(&text) {
            Ok(n) => Some(n),
            Err(e) => {
                self.cx.error(
                    at,
                    &self.key_path(key),
                    e,
                    Some("write it like \"64MiB\" or \"1GiB\"".into()),
                );
                None
            }
        }
    }

    /// A string or an array of strings.
    pub fn strings(&self, key: &'static str) -> Option<(Vec<String>, Location)> {
        let (value, at) = self.value(key)?;
        if let Some(array) = value.as_array() {
            let mut out = Vec::new();
            for item in array.iter() {
                match item.as_str() {
                    Some(s) => out.push(s.to_string()),
                    None => {
                        self.wrong_type(key, self.cx.lines.locate(item.span()), "a string", item);
                        return None;
                    }
                }
            }
            Some((out, at))
        } else {
            self.string(key).map(|(s, at)| (vec![s], at))
        }
    }

    /// Reports every key of the table that no read asked for.
    pub fn finish(self) {
        let read = self.read.borrow().clone();
        for (key, item) in self.table.iter() {
            if !read.contains(&key) {
                let at = self
                    .table
                    .key(key)
                    .and_then(|k| k.span())
                    .or_else(|| item.span());
                self.cx.error(
                    self.cx.lines.locate(at),
                    &self.key_path(key),
                    "unknown key",
                    did_you_mean(key, read.iter().copied())
                        .or_else(|| Some(format!("known keys here: {}", read.join(", ")))),
                );
            }
        }
    }
}
/// `path` relative to the pipeline file's directory `base`, with `.` and `..` folded
/// away so that messages show `plugins/x`, not `examples/../plugins/x`.
pub fn resolve(base: &Path, path: &str) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in base.join(path).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}
