//! End-to-end tests: the real `sluice` binary, real plugins built for wasm, real TCP
//! sockets, pipes, files and signals. Each test states one promise the product makes.
//!
//! Tests synchronize on what the process prints (a batch's log line, a sink's output),
//! never on sleeps, so they hold on a loaded machine.

mod support;

mod demo;
mod directory;
mod examples;
mod failures;
mod fault_tolerance;
mod hostile;
mod hot_swap;
mod integrity;
mod kafka;
mod metrics_api;
mod operators;
mod pipeline_file;
mod rate_control;
mod socket;
mod stateful;
mod stdin;
mod terminal;
mod timeline_page;
