//! State that outlives a batch, owned by the host: keyed state of
//! update_state_by_key and map_with_state stages, and the buffers of window stages.
//!
//! State is never changed while a batch runs. A stage reads its state and returns a
//! [`StageChange`]; the engine applies every stage's change only after the whole batch,
//! sinks included, has succeeded. A failed batch therefore leaves state exactly as it
//! was, and a batch can be re-run (after a rollback, say) against the same state.
//!
//! State belongs to the stage's name in the pipeline file, not to a plugin instance or
//! version, so it survives instances being replaced and (later) code being swapped.

mod initial;
mod keyed;
mod window;

pub use initial::load_initial_state;
pub use keyed::{KeyedChange, KeyedState, StateEntry, StateMap};
pub use window::{WindowChange, WindowState};

/// The state of one stage.
#[derive(Debug, Default)]
pub enum StageState {
    /// The stage keeps nothing between batches.
    #[default]
    Stateless,
    /// Keyed state, partitioned by key hash.
    Keyed(KeyedState),
    /// A window's per-batch partial results.
    Window(WindowState),
}

/// What one batch changes in one stage's state.
#[derive(Debug)]
pub enum StageChange {
    /// Per partition of a keyed state.
    Keyed(Vec<KeyedChange>),
    /// A window's new partial and what to forget.
    Window(WindowChange),
}

impl StageState {
    /// Applies a committed batch's change.
    pub fn apply(&mut self, change: StageChange) {
        match (self, change) {
            (StageState::Keyed(state), StageChange::Keyed(changes)) => state.apply(changes),
            (StageState::Window(state), StageChange::Window(change)) => state.apply(change),
            (state, change) => unreachable!("a {change:?} cannot apply to {state:?}"),
        }
    }

    /// The keyed state, for stages that have one.
    pub fn keyed(&self) -> Option<&KeyedState> {
        match self {
            StageState::Keyed(state) => Some(state),
            _ => None,
        }
    }

    /// The window state, for stages that have one.
    pub fn window(&self) -> Option<&WindowState> {
        match self {
            StageState::Window(state) => Some(state),
            _ => None,
        }
    }
}
