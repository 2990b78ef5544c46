//! [`State`]: a key's state as a `#[map_with_state]` function sees it.
//!
//! The runtime builds one `State` per input item from the state the host sent, lends it
//! to every call for that key, and sends back what is left in it after the last call. It
//! is a plain value, so a plugin's native unit tests build one with [`State::new`] or
//! [`State::timing_out`], call the function and look at the state afterwards.

/// The state of one key, read and changed by a `#[map_with_state]` function.
///
/// A key either has a state or has none ([`exists`](State::exists)). The function may
/// [`update`](State::update) it, change it in place through
/// [`get_mut`](State::get_mut) or [`remove`](State::remove) it; after the last call for
/// the key in a batch, the host stores whatever the `State` holds (nothing removes the
/// key).
///
/// When a key has seen no records for its timeout, the function is called once more
/// with no value and a state for which [`is_timing_out`](State::is_timing_out) is true.
/// That state may be read but not updated: the host removes the key after the call,
/// whatever it holds.
///
/// ```
/// use sluice_sdk::State;
///
/// let mut state = State::new(Some(2u64));
/// if let Some(count) = state.get_mut() {
///     *count += 1;
/// }
/// assert_eq!(state.get(), Some(&3));
/// state.remove();
/// assert!(!state.exists());
/// assert_eq!(state.into_inner(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State<S> {
    value: Option<S>,
    timing_out: bool,
}

impl<S> State<S> {
    /// The state of a key that is not timing out: `Some` if the key has a state, `None`
    /// if it has none yet.
    pub fn new(state: Option<S>) -> Self {
        State {
            value: state,
            timing_out: false,
        }
    }

    /// The state of a key that is timing out, as the last call for that key sees it.
    pub fn timing_out(state: S) -> Self {
        State {
            value: Some(state),
            timing_out: true,
        }
    }

    /// Whether the key has a state.
    pub fn exists(&self) -> bool {
        self.value.is_some()
    }

    /// The key's state, if it has one.
    pub fn get(&self) -> Option<&S> {
        self.value.as_ref()
    }

    /// The key's state to change in place, if it has one. Changes made while the key is
    /// timing out are lost with the key.
    pub fn get_mut(&mut self) -> Option<&mut S> {
        self.value.as_mut()
    }

    /// Sets the key's state.
    ///
    /// # Panics
    ///
    /// If the key is timing out (as Spark's `State.update` throws): the host removes the
    /// key after this call, so the new state could never be seen. The panic fails the
    /// partition-batch with its message.
    pub fn update(&mut self, state: S) {
        if self.timing_out {
            panic!("cannot update the state of a key that is timing out");
        }
        self.value = Some(state);
    }

    /// Removes the key's state: the host forgets the key after the last call.
    pub fn remove(&mut self) {
        self.value = None;
    }

    /// Whether this is the last call for a key that has timed out.
    pub fn is_timing_out(&self) -> bool {
        self.timing_out
    }

    /// The state the key is left with.
    pub fn into_inner(self) -> Option<S> {
        self.value
    }
}

impl<S> Default for State<S> {
    /// A key with no state, not timing out.
    fn default() -> Self {
        State::new(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_state_can_be_updated_changed_and_removed() {
        let mut state = State::<u64>::default();
        assert!(!state.exists() && !state.is_timing_out());
        state.update(1);
        *state.get_mut().unwrap() += 1;
        assert_eq!(state.get(), Some(&2));
        state.remove();
        assert_eq!(state.clone().into_inner(), None);
        state.update(5);
        assert_eq!(state.into_inner(), Some(5));
    }

    #[test]
    fn a_timing_out_state_can_be_read_and_removed() {
        let mut state = State::timing_out("last");
        assert!(state.is_timing_out() && state.exists());
        assert_eq!(state.get(), Some(&"last"));
        state.remove();
        assert!(!state.exists());
    }

    #[test]
    #[should_panic(expected = "cannot update the state of a key that is timing out")]
    fn updating_a_timing_out_state_panics() {
        State::timing_out(1u8).update(2);
    }
}
