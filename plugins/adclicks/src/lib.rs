//! Clicks joined with impressions by ad id. Impressions are windowed (a click may come
//! a while after the ad was shown), clicks are not; a `join` of the two then pairs each
//! click with the impressions of the same ad in the window, and `attribute` says
//! whether the clicking user was one who saw the ad.

use sluice_sdk::map;

/// `"ad42 ann"` (ad id, user) → `("ad42", "ann")`. Impressions and clicks share the
/// format.
#[map]
pub fn parse_event(line: &str) -> (&str, &str) {
    line.split_once(' ').unwrap_or((line, ""))
}

/// A joined `(ad, (clicking user, user shown the ad))` → `(ad, user, attributed)`.
#[map]
pub fn attribute<'a>(joined: (&'a str, (&'a str, &'a str))) -> (&'a str, &'a str, bool) {
    let (ad, (clicker, viewer)) = joined;
    (ad, clicker, clicker == viewer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_click_is_attributed_to_its_own_impression() {
        assert_eq!(parse_event("ad42 ann"), ("ad42", "ann"));
        assert_eq!(attribute(("ad42", ("ann", "ann"))), ("ad42", "ann", true));
        assert_eq!(attribute(("ad42", ("bob", "ann"))), ("ad42", "bob", false));
    }
}
