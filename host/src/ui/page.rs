//! The batch timeline page, built into the binary: one HTML document with its style
//! and script put inside it, so it needs nothing but this server (no CDN, no build step
//! at run time). The script polls the JSON API every second and draws the charts as SVG.

use std::sync::OnceLock;

const TEMPLATE: &str = include_str!("assets/index.html");
const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/timeline.js");

/// The page, assembled once.
pub fn html() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| {
        TEMPLATE
            .replacen("/* style */", STYLE, 1)
            .replacen("/* script */", SCRIPT, 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_its_style_and_script_and_loads_nothing_else() {
        let page = html();
        assert!(page.contains("function refresh"), "the script is inlined");
        assert!(page.contains(".chart"), "the style is inlined");
        assert!(!page.contains("/* style */") && !page.contains("/* script */"));
        for outside in [
            "<script src",
            "<link",
            "src=\"http",
            "href=\"http",
            "url(",
            "@import",
        ] {
            assert!(!page.contains(outside), "the page loads {outside}");
        }
    }
}
