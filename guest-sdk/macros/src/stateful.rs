//! Signature checks of the kinds whose function sees a key and the key's state,
//! `#[update_state]` and `#[map_with_state]`: what the key, the values and the state
//! decode as, and that the state and the return type have the shapes the runtime needs.

use crate::signature::{
    Input, last_segment_is, no_static_borrow, record_input, spaced, type_argument,
    without_lifetimes,
};
use crate::{Kind, SpannedExt};
use syn::Type;

pub struct Keyed {
    /// The key parameter, adapted like a record.
    pub key: Input,
    /// What the values (`Vec<V>`'s or `Option<V>`'s `V`) and the state (`S`) decode as.
    pub parts: Vec<Type>,
}

/// Checks the three parameters and the return type of an `#[update_state]` or
/// `#[map_with_state]` function.
pub fn check(kind: Kind, types: &[&Type], output: &Type, expected: &str) -> syn::Result<Keyed> {
    let name = kind.name();
    let key = record_input(kind, types[0], "key", expected)?;
    let (values, state) = if kind == Kind::UpdateState {
        let values = type_argument(types[1], "Vec").ok_or_else(|| {
            types[1].error(format!(
                "`#[{name}]` takes the key's values in this batch as `Vec<V>`; {expected}"
            ))
        })?;
        let state = type_argument(types[2], "Option").ok_or_else(|| {
            types[2].error(format!(
                "`#[{name}]` takes the key's state as `Option<S>` (`None` if it has none yet); {expected}"
            ))
        })?;
        let Some(new_state) = type_argument(output, "Option") else {
            return Err(output.error(format!(
                "`#[{name}]` returns the key's new state as `Option<S>` (`None` removes the key); {expected}"
            )));
        };
        let state_type = spaced(without_lifetimes(state));
        if spaced(without_lifetimes(new_state)) != state_type {
            return Err(new_state.error(format!(
                "`#[{name}]` returns the state type it takes, `{state_type}`; {expected}"
            )));
        }
        (values, state)
    } else {
        let value = type_argument(types[1], "Option").ok_or_else(|| {
            types[1].error(format!(
                "`#[{name}]` takes the value as `Option<V>` (`None` when the key is timing out); {expected}"
            ))
        })?;
        let state = match types[2] {
            Type::Reference(reference) if reference.mutability.is_some() => {
                type_argument(&reference.elem, "State")
            }
            _ => None,
        };
        let state = state.ok_or_else(|| {
            types[2].error(format!(
                "`#[{name}]` takes the key's state as `&mut State<S>` (`sluice_sdk::State`); {expected}"
            ))
        })?;
        if last_segment_is(output, "Result") {
            return Err(output.error(format!(
                "`#[{name}]` returns the mapped record, or an `Option` of it to emit only \
                 `Some`s, not a `Result`; {expected}"
            )));
        }
        (value, state)
    };
    no_static_borrow(values, expected)?;
    no_static_borrow(state, expected)?;
    Ok(Keyed {
        key,
        parts: vec![without_lifetimes(values), without_lifetimes(state)],
    })
}
