//! `/api/v1/plugins` (sluice's own): every plugin version that served the run and what
//! it did.

use super::failures;
use crate::metrics::MetricsState;
use serde::Serialize;
use std::collections::BTreeMap;

/// One entry of `/api/v1/plugins` (sluice's own): a plugin version and what it did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plugin {
    name: String,
    version: String,
    current: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<usize>,
    functions: Vec<String>,
    calls: u64,
    time: f64,
    failures: BTreeMap<&'static str, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_batch: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_batch: Option<u64>,
    swaps: u64,
}

/// `/api/v1/plugins`: every plugin version that served the run, current ones first.
pub fn plugins(state: &MetricsState) -> Vec<Plugin> {
    let described = state.run.as_ref().map_or(&[][..], |r| &r.plugins[..]);
    let totals = &state.totals;
    let current = |name: &str, version: &str| {
        totals.swaps.iter().find(|(p, _, _)| p == name).map_or_else(
            || {
                described
                    .iter()
                    .any(|d| d.name == name && d.version == version)
            },
            |(_, v, _)| v == version,
        )
    };
    let swaps = |name: &str| {
        totals
            .swaps
            .iter()
            .find(|(p, _, _)| p == name)
            .map_or(0, |(_, _, n)| *n)
    };
    let mut out: Vec<Plugin> = totals
        .plugins
        .iter()
        .map(|t| {
            let description = described
                .iter()
                .find(|d| d.name == t.plugin && d.version == t.version);
            Plugin {
                name: t.plugin.clone(),
                version: t.version.clone(),
                current: current(&t.plugin, &t.version),
                size: description.map(|d| d.size),
                functions: description.map_or_else(Vec::new, |d| d.functions.clone()),
                calls: t.counts.calls,
                time: t.counts.time.as_secs_f64() * 1e3,
                failures: failures(&t.counts),
                first_batch: Some(t.batches.0),
                last_batch: Some(t.batches.1),
                swaps: swaps(&t.plugin),
            }
        })
        .collect();
    // Versions loaded but not called yet (before the first batch).
    for d in described {
        if !out
            .iter()
            .any(|p| p.name == d.name && p.version == d.version)
        {
            out.push(Plugin {
                name: d.name.clone(),
                version: d.version.clone(),
                current: current(&d.name, &d.version),
                size: Some(d.size),
                functions: d.functions.clone(),
                calls: 0,
                time: 0.0,
                failures: BTreeMap::new(),
                first_batch: None,
                last_batch: None,
                swaps: swaps(&d.name),
            });
        }
    }
    out.sort_by(|a, b| b.current.cmp(&a.current).then(a.name.cmp(&b.name)));
    out
}
