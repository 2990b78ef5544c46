//! User sessions from a click stream with `map_with_state`: each click updates the
//! user's session and reports its length so far; a user idle for the stage's `timeout`
//! gets one last call, which reports the finished session.

use serde::{Deserialize, Serialize};
use sluice_sdk::{State, map, map_with_state};

/// `"ann /products/7"` → `("ann", "/products/7")`.
#[map]
pub fn parse_click(line: &str) -> (&str, &str) {
    line.split_once(' ').unwrap_or((line, "/"))
}

/// What sluice keeps per user between batches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Pages viewed.
    pub pages: u32,
    /// The first page of the session.
    pub entry: String,
    /// The page viewed last.
    pub last: String,
}

/// What the stage emits: a session in progress, or one that ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The user.
    pub user: String,
    /// Pages so far.
    pub pages: u32,
    /// Whether the session ended (the user went idle).
    pub ended: bool,
    /// The session's entry page.
    pub entry: String,
}

/// Tracks one user's session.
#[map_with_state]
pub fn track(user: &str, page: Option<&str>, state: &mut State<Session>) -> Report {
    let Some(page) = page else {
        // Idle for the timeout: the session is over.
        let session = state.get().cloned().expect("a timing-out key has state");
        return Report {
            user: user.into(),
            pages: session.pages,
            ended: true,
            entry: session.entry,
        };
    };
    let mut session = state.get().cloned().unwrap_or(Session {
        pages: 0,
        entry: page.into(),
        last: String::new(),
    });
    session.pages += 1;
    session.last = page.into();
    let report = Report {
        user: user.into(),
        pages: session.pages,
        ended: false,
        entry: session.entry.clone(),
    };
    state.update(session);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_grows_with_clicks_and_ends_on_timeout() {
        let mut state = State::new(None);
        assert_eq!(track("ann", Some("/"), &mut state).pages, 1);
        let report = track("ann", Some("/cart"), &mut state);
        assert_eq!(
            (report.pages, report.entry.as_str(), report.ended),
            (2, "/", false)
        );
        let mut idle = State::timing_out(state.into_inner().unwrap());
        let last = track("ann", None, &mut idle);
        assert!(last.ended && last.pages == 2);
    }
}
