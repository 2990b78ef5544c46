//! A window stage's memory: the per-batch partial results of the batches a window can
//! still reach (counts, reduced values per key; raw records only for `window` itself),
//! and, in incremental mode, the last window's result.

use crate::record::Records;
use std::collections::VecDeque;

/// The partial results a window stage keeps.
#[derive(Debug, Default)]
pub struct WindowState {
    /// Per batch time, oldest first: that batch's partial result, by partition.
    pub partials: VecDeque<(u64, Vec<Records>)>,
    /// The last computed window (its batch time and result), for incremental mode.
    pub previous: Option<(u64, Vec<Records>)>,
}

/// What a batch changes in a window's memory.
#[derive(Debug)]
pub struct WindowChange {
    /// The batch's partial result.
    pub partial: (u64, Vec<Records>),
    /// Partials at or before this time are no longer reachable and are dropped.
    pub forget_until: u64,
    /// A newly computed window to remember, if one was computed.
    pub previous: Option<(u64, Vec<Records>)>,
}

impl WindowState {
    /// Applies a committed batch's change.
    pub fn apply(&mut self, change: WindowChange) {
        self.partials.push_back(change.partial);
        while self
            .partials
            .front()
            .is_some_and(|(t, _)| *t <= change.forget_until)
        {
            self.partials.pop_front();
        }
        if change.previous.is_some() {
            self.previous = change.previous;
        }
    }

    /// The partials of batches in `(after, until]`, oldest first, with `extra` (the
    /// current batch's partial, not yet applied) when it falls in the range.
    pub fn between<'a>(
        &'a self,
        after: u64,
        until: u64,
        extra: &'a (u64, Vec<Records>),
    ) -> Vec<&'a [Records]> {
        self.partials
            .iter()
            .chain(std::iter::once(extra))
            .filter(|(t, _)| *t > after && *t <= until)
            .map(|(_, parts)| parts.as_slice())
            .collect()
    }
}
