//! Plugins that break the rules, written in WebAssembly text: the host refuses or
//! contains each of them.

use super::{Call, CallFailure, LoadError, PluginVersion, Runtime};
use crate::config::Limits;
use crate::record::Records;
use std::time::Duration;

/// A module speaking the ABI with one function `f` of `kind` whose body is `body` and
/// whose output is the bytes at address 0, `output_len` long.
fn guest(kind: &str, body: &str, output_len: u32, memory_pages: u32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
            (memory (export "memory") {memory_pages})
            (data (i32.const 0) "\92\a1a\a1b")
            (@custom "sluice_manifest" "abi1\t{kind}\tf\tfn f(x: String) -> String\n")
            (func (export "sluice_input") (param i32) (result i32) i32.const 1024)
            (func (export "sluice_output_ptr") (result i32) i32.const 0)
            (func (export "sluice_output_len") (result i32) i32.const {output_len})
            (func (export "sluice_chain") (result i32) i32.const 0)
            (func (export "sluice_fn_f") (param i32 i64 i32 i32) (result i32) {body}))"#
    ))
    .unwrap()
}

fn limits() -> Limits {
    Limits {
        memory: 16 << 20,
        deadline: Duration::from_millis(200),
    }
}

fn call() -> Call<'static> {
    Call {
        function: "f",
        mode: 0,
        batch_time_ms: 0,
        partition: 0,
    }
}

fn one_record() -> Records {
    let mut records = Records::new();
    records.push_str("x");
    records
}

#[test]
fn a_map_that_returns_two_records_for_one_is_a_protocol_error() {
    let runtime = Runtime::new().unwrap();
    let bytes = guest("map", "i32.const 0", 5, 1);
    let version = PluginVersion::load(&runtime, "twice", &bytes, limits()).unwrap();
    let error = version.call(&call(), &one_record()).unwrap_err();
    match error.failure {
        CallFailure::Protocol { message } => {
            assert!(message.contains("returned 2 records for 1"), "{message}")
        }
        other => panic!("not a protocol error: {other:?}"),
    }
    // The same output from a flat_map is two records.
    let bytes = guest("flat_map", "i32.const 0", 5, 1);
    let version = PluginVersion::load(&runtime, "twice", &bytes, limits()).unwrap();
    assert_eq!(version.call(&call(), &one_record()).unwrap().len(), 2);
}

#[test]
fn a_memory_limit_below_the_initial_memory_is_refused_at_load() {
    let runtime = Runtime::new().unwrap();
    let bytes = guest("map", "i32.const 0", 5, 17);
    let tight = Limits {
        memory: 1 << 20,
        ..limits()
    };
    let error = PluginVersion::load(&runtime, "big", &bytes, tight).unwrap_err();
    assert!(matches!(error, LoadError::MemoryLimit { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("plugin `big`") && message.contains("\"1088KiB\""),
        "{message}"
    );
}

#[test]
fn a_stack_overflow_says_so_and_names_the_function_demangled() {
    let runtime = Runtime::new().unwrap();
    // The recursing function is named as rustc mangles it.
    let bytes = wat::parse_str(
        r#"(module
            (memory (export "memory") 1)
            (@custom "sluice_manifest" "abi1\tmap\tf\tfn f(x: String) -> String\n")
            (func (export "sluice_input") (param i32) (result i32) i32.const 1024)
            (func (export "sluice_output_ptr") (result i32) i32.const 0)
            (func (export "sluice_output_len") (result i32) i32.const 0)
            (func (export "sluice_chain") (result i32) i32.const 0)
            (func $_ZN6faulty7recurse17h0123456789abcdefE (result i32)
                call $_ZN6faulty7recurse17h0123456789abcdefE)
            (func (export "sluice_fn_f") (param i32 i64 i32 i32) (result i32)
                call $_ZN6faulty7recurse17h0123456789abcdefE))"#,
    )
    .unwrap();
    let version = PluginVersion::load(&runtime, "deep", &bytes, limits()).unwrap();
    let error = version
        .call(&call(), &one_record())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("stack overflow") && error.contains(" in faulty::recurse"),
        "{error}"
    );
}

#[test]
fn deadlines_hold_for_a_version_that_outlives_its_runtime() {
    let runtime = Runtime::new().unwrap();
    let bytes = guest("map", "(loop (br 0)) i32.const 0", 5, 1);
    let version = PluginVersion::load(&runtime, "spins", &bytes, limits()).unwrap();
    drop(runtime);
    let error = version.call(&call(), &one_record()).unwrap_err();
    assert!(
        matches!(error.failure, CallFailure::DeadlineExceeded { .. }),
        "{error}"
    );
}
