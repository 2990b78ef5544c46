//! The layering rule of `host/src`, checked: no import circle between folders or files.
//!
//! Every file is read with `syn` and every path it names that starts with `crate::`,
//! `super::` or `self::` (or a child module's name, in a `use`) is an edge from its
//! module to the module the path lands in. Code under `#[cfg(test)]` and doc comments
//! do not count. A module may use what its ancestors define (a folder's `mod.rs` is the
//! folder), and a folder may use its own children; every other edge must keep the graph
//! acyclic at every depth: between top-level folders (`source` → `kafka`), between the
//! folders and files of a folder, and between single files.
//!
//! The same reading checks that only `plugin/` names wasmtime and only the Kafka
//! folders name rdkafka.
//!
//! `cargo test -p sluice layering` runs it; a failure names the circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use syn::visit::Visit;

/// A module path: `["source", "kafka", "housekeeper"]`.
type Module = Vec<String>;

fn modules(dir: &Path, prefix: &Module, out: &mut BTreeMap<Module, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let mut module = prefix.clone();
            module.push(name);
            modules(&path, &module, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let mut module = prefix.clone();
            if !matches!(name.as_str(), "mod" | "lib" | "main") {
                module.push(name);
            }
            out.insert(module, std::fs::read_to_string(&path).unwrap());
        }
    }
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>().is_ok_and(|m| match m {
                syn::Meta::Path(p) => p.is_ident("test"),
                syn::Meta::List(l) => {
                    l.path.is_ident("all") && l.tokens.to_string().contains("test")
                }
                _ => false,
            })
    })
}

/// Collects the paths a file names, outside test-only code.
#[derive(Default)]
struct Paths {
    found: Vec<Vec<String>>,
    /// Child modules declared in the file (`mod x;`).
    children: BTreeSet<String>,
}

impl Paths {
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.push_use(prefix, &n.ident.to_string()),
            syn::UseTree::Rename(r) => self.push_use(prefix, &r.ident.to_string()),
            syn::UseTree::Glob(_) => self.found.push(prefix.clone()),
            syn::UseTree::Group(g) => {
                for item in &g.items {
                    self.use_tree(prefix, item);
                }
            }
        }
    }

    fn push_use(&mut self, prefix: &[String], last: &str) {
        let mut path = prefix.to_vec();
        path.push(last.to_string());
        self.found.push(path);
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Enum(e) => &e.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            syn::Item::Trait(t) => &t.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if is_test_only(attrs) {
            return;
        }
        match item {
            syn::Item::Use(u) => self.use_tree(&mut Vec::new(), &u.tree),
            syn::Item::Mod(m) if m.content.is_none() => {
                self.children.insert(m.ident.to_string());
            }
            _ => syn::visit::visit_item(self, item),
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.found
            .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, path);
    }
}

/// The module `path`, named in `from`, lands in: the longest known module it starts
/// with, or `None` for paths outside the crate's modules (std, other crates, items of
/// the crate root).
fn resolve(
    from: &Module,
    children: &BTreeSet<String>,
    path: &[String],
    known: &BTreeMap<Module, String>,
) -> Option<Module> {
    let (mut base, rest): (Module, &[String]) = match path.first()?.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (from.clone(), &path[1..]),
        "super" => {
            let mut base = from.clone();
            let mut rest = path;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            (base, rest)
        }
        first if children.contains(first) => (from.clone(), path),
        _ => return None,
    };
    let mut found = None;
    for segment in rest {
        base.push(segment.clone());
        if known.contains_key(&base) {
            found = Some(base.clone());
        } else {
            break;
        }
    }
    found
}

/// The edges between modules that the rule constrains.
fn edges(known: &BTreeMap<Module, String>) -> BTreeSet<(Module, Module)> {
    let mut out = BTreeSet::new();
    for (module, text) in known {
        let file = syn::parse_file(text).unwrap_or_else(|e| panic!("{module:?}: {e}"));
        let mut paths = Paths::default();
        paths.visit_file(&file);
        for path in &paths.found {
            let Some(target) = resolve(module, &paths.children, path, known) else {
                continue;
            };
            let related = target.starts_with(module) || module.starts_with(&target);
            if !related {
                out.insert((module.clone(), target));
            }
        }
    }
    out
}

/// A circle in `graph`, if there is one.
fn circle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        node: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<Module, bool>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        match state.get(node) {
            Some(true) => return None,
            Some(false) => {
                let start = stack.iter().position(|n| n == node).expect("on the stack");
                let mut found = stack[start..].to_vec();
                found.push(node.clone());
                return Some(found);
            }
            None => {}
        }
        state.insert(node.clone(), false);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, state, stack) {
                return Some(found);
            }
        }
        stack.pop();
        state.insert(node.clone(), true);
        None
    }
    let mut state = BTreeMap::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut state, &mut Vec::new()))
}

/// Every circle found, one per depth at which modules are merged into their folders.
fn circles(known: &BTreeMap<Module, String>) -> Vec<String> {
    let edges = edges(known);
    let deepest = known.keys().map(Vec::len).max().unwrap_or(0);
    let mut found = Vec::new();
    for depth in 1..=deepest {
        let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        for (from, to) in &edges {
            let (a, b) = (
                from[..from.len().min(depth)].to_vec(),
                to[..to.len().min(depth)].to_vec(),
            );
            if !(a.starts_with(&b) || b.starts_with(&a)) {
                graph.entry(a).or_default().insert(b);
            }
        }
        if let Some(circle) = circle(&graph) {
            let names: Vec<String> = circle.iter().map(|m| m.join("::")).collect();
            found.push(format!("depth {depth}: {}", names.join(" -> ")));
        }
    }
    found
}

/// Every module of `host/src`, with its text.
fn host_modules() -> BTreeMap<Module, String> {
    let mut known = BTreeMap::new();
    modules(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &Vec::new(),
        &mut known,
    );
    known
}

#[test]
fn no_import_circle_between_folders_or_files() {
    let known = host_modules();
    assert!(known.len() > 100, "read only {} files", known.len());
    let found = circles(&known);
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

/// Which crates only one folder may name, and the folders that may.
const OWNED: [(&str, &[&str]); 2] = [
    ("wasmtime", &["plugin"]),
    ("rdkafka", &["kafka", "source::kafka", "sink::kafka"]),
];

/// Every module that names an owned crate outside the folders that own it.
fn trespasses(known: &BTreeMap<Module, String>) -> Vec<String> {
    let mut found = Vec::new();
    for (module, text) in known {
        let file = syn::parse_file(text).unwrap_or_else(|e| panic!("{module:?}: {e}"));
        let mut paths = Paths::default();
        paths.visit_file(&file);
        let name = module.join("::");
        for (krate, owners) in OWNED {
            let owned = owners
                .iter()
                .any(|o| name == *o || name.starts_with(&format!("{o}::")));
            if !owned
                && paths
                    .found
                    .iter()
                    .any(|p| p.first().is_some_and(|f| f == krate))
            {
                found.push(format!("{name} uses {krate}, which only {owners:?} may"));
            }
        }
    }
    found
}

#[test]
fn only_plugin_touches_wasmtime_and_only_kafka_folders_touch_rdkafka() {
    let known = host_modules();
    let found = trespasses(&known);
    assert!(found.is_empty(), "{}", found.join("\n"));
    let mut bad = BTreeMap::new();
    bad.insert(
        vec!["engine".to_string()],
        "fn f(e: &wasmtime::Engine) {}".to_string(),
    );
    assert_eq!(
        trespasses(&bad),
        ["engine uses wasmtime, which only [\"plugin\"] may"]
    );
}

#[test]
fn a_circle_is_found() {
    let mut known = BTreeMap::new();
    for (module, text) in [
        ("a", "use crate::b::x;"),
        ("b", "pub fn x() { crate::a::y() }"),
        ("c", "#[cfg(test)]\nmod tests { use crate::a::y; }"),
    ] {
        known.insert(vec![module.to_string()], text.to_string());
    }
    assert_eq!(circles(&known), ["depth 1: a -> b -> a"]);
    known.insert(
        vec!["b".to_string()],
        "/// Unlike [`crate::a::y`].\npub fn x() {}".to_string(),
    );
    assert!(circles(&known).is_empty());
}
