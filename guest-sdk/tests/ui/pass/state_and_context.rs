// The keyed kinds' other shapes: keys by value and by reference to a struct, struct
// states, borrowed values, `Option`-returning map_with_state, fallible transform.

use serde::{Deserialize, Serialize};
use sluice_sdk::{BatchContext, State, inverse_reduce, map_with_state, transform, update_state};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub method: String,
    pub path: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub hits: u64,
    pub last: Option<String>,
}

// A struct key by reference (decoded, then lent) and values borrowed from the input.
#[update_state]
pub fn route_stats(route: &Route, agents: Vec<&str>, stats: Option<Stats>) -> Option<Stats> {
    let _ = &route.path;
    let mut stats = stats.unwrap_or_default();
    stats.hits += agents.len() as u64;
    if let Some(agent) = agents.last() {
        stats.last = Some(agent.to_string());
    }
    Some(stats)
}

// A key by value, and a state that is dropped when no values came in.
#[update_state]
pub fn latest(user: String, sessions: Vec<u32>, last: Option<u32>) -> Option<u32> {
    let _ = user;
    sessions.into_iter().max().or(last)
}

// Emits only when a key times out: its final count.
#[map_with_state]
pub fn final_count(
    user: &String,
    click: Option<&str>,
    count: &mut State<u64>,
) -> Option<(String, u64)> {
    match click {
        Some(_) => {
            let next = count.get().copied().unwrap_or(0) + 1;
            count.update(next);
            None
        }
        None => count.get().map(|total| (user.clone(), *total)),
    }
}

// A struct key taken by value (cloned per value), a struct state changed in place.
#[map_with_state]
pub fn hits<'a>(route: Route, agent: Option<&'a str>, stats: &mut State<Stats>) -> Option<&'a str> {
    let _ = route.method;
    match stats.get_mut() {
        Some(stats) => stats.hits += 1,
        None => stats.update(Stats::default()),
    }
    agent
}

// A non-commutative inverse over a struct.
#[inverse_reduce]
pub fn forget(mut a: Stats, b: Stats) -> Stats {
    a.hits -= b.hits;
    a
}

// A fallible transform that borrows its records.
#[transform]
pub fn partition_tag<'a>(
    lines: Vec<&'a str>,
    context: sluice_sdk::BatchContext,
) -> Result<impl Iterator<Item = (u32, &'a str)>, String> {
    if context.batch_time_ms < 0 {
        return Err(format!(
            "batch time {} is before 1970",
            context.batch_time_ms
        ));
    }
    Ok(lines.into_iter().map(move |line| (context.partition, line)))
}

fn main() {
    let route = Route {
        method: "GET".into(),
        path: "/".into(),
    };
    let stats = route_stats(&route, vec!["curl"], None).unwrap();
    assert_eq!(stats.hits, 1);
    assert_eq!(latest("u".into(), vec![], Some(4)), Some(4));
    let mut count = State::new(Some(2));
    assert_eq!(final_count(&"u".into(), Some("x"), &mut count), None);
    let mut timing_out = State::timing_out(3);
    assert_eq!(
        final_count(&"u".into(), None, &mut timing_out),
        Some(("u".into(), 3))
    );
    let mut state = State::default();
    assert_eq!(hits(route, Some("curl"), &mut state), Some("curl"));
    assert_eq!(forget(stats.clone(), stats).hits, 0);
    let context = BatchContext {
        batch_time_ms: 1,
        partition: 2,
    };
    assert_eq!(
        partition_tag(vec!["a"], context)
            .unwrap()
            .collect::<Vec<_>>(),
        [(2, "a")]
    );
}
