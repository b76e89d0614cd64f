//! The shape of the code: every module imports only from its own layer or
//! the layers below it. The layers, top to bottom (docs/architecture.md
//! draws the same picture):
//!
//! 1. startup: `main`, `server::startup` (knows everyone, wires the doors),
//!    `server::commands` (operators' commands run instead of the server)
//! 2. configuration: `server::config`
//! 3. doors: REST (`server::rest`), the server functions (`rpc`), the UI
//!    and its pages (`app`, `server::page_cache`, `server::pages`,
//!    `server::assets`) and the
//!    state they share (`server::state`)
//! 4. the front layer: `server::http`
//! 5. seams: `server::auth`, `server::store`, `server::inference`, and
//!    `server::transfer` (bulk files, over the store)
//! 6. support: `server::cache`, `server::rate`, `server::telemetry`
//! 7. `domain`, shared with the browser
//!
//! Two parts of one layer (the prefixes listed for it below) may use each
//! other one way, not both ways round.
//!
//! The test reads the sources: every `crate::` (and, in `main.rs`,
//! `itemserve::`) path and every `super::` path outside comments and test
//! modules.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Top to bottom; a module belongs to the layer of its longest prefix.
const LAYERS: &[(&str, &[&str])] = &[
    ("startup", &["main", "server::startup", "server::commands"]),
    ("configuration", &["server::config"]),
    (
        "doors",
        &[
            "server::rest",
            "rpc",
            "app",
            "server::page_cache",
            "server::pages",
            "server::assets",
            "server::state",
        ],
    ),
    ("front layer", &["server::http"]),
    (
        "seams",
        &[
            "server::auth",
            "server::store",
            "server::inference",
            "server::transfer",
        ],
    ),
    (
        "support",
        &["server::cache", "server::rate", "server::telemetry"],
    ),
    ("domain", &["domain"]),
];

/// The layer of a module path (`server::rest::items`), by index from the
/// top; `None` for the crate root and `server` itself, which only declare
/// modules.
fn layer_of(module: &str) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (index, (_, prefixes)) in LAYERS.iter().enumerate() {
        for prefix in *prefixes {
            let matches = module == *prefix
                || module
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with("::"));
            if matches && best.is_none_or(|(_, len)| prefix.len() > len) {
                best = Some((index, prefix.len()));
            }
        }
    }
    best.map(|(index, _)| index)
}

/// `src/server/rest/items.rs` → `server::rest::items`; `mod.rs` names its
/// folder.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without comments and without its test module.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod tests"))
        {
            break;
        }
        out.push_str(line.split("//").next().unwrap_or_default());
        out.push('\n');
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The path that starts at `text` (`a::b::{c, d::e}` gives `a::b::c` and
/// `a::b::d::e`), read up to the first item that is not a module name
/// (capitalised or a macro); modules are what layers are made of, so
/// `a::b::Type` counts as `a::b`.
fn paths_at(text: &str, base: &str, out: &mut Vec<String>) {
    let mut path = base.to_owned();
    let mut rest = text;
    loop {
        let ident: String = rest.chars().take_while(|&c| is_ident(c)).collect();
        if ident.is_empty() {
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 1;
                let mut start = 0;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' | ',' if depth == 1 => {
                            let item = group[start..i].trim();
                            if !item.is_empty() && item != "self" {
                                paths_at(item, &path, out);
                            }
                            start = i + 1;
                            if c == '}' {
                                break;
                            }
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
            }
            break;
        }
        if ident.starts_with(|c: char| c.is_ascii_uppercase()) || ident == "self" {
            break;
        }
        rest = &rest[ident.len()..];
        if rest.starts_with('!') {
            break;
        }
        path = if path.is_empty() {
            ident
        } else {
            format!("{path}::{ident}")
        };
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => break,
        }
    }
    out.push(path);
}

/// Every module `code` (of module `module`) refers to.
fn references(module: &str, code: &str) -> Vec<String> {
    let mut found = Vec::new();
    for root in ["crate::", "itemserve::"] {
        for (at, _) in code.match_indices(root) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| is_ident(c) || c == ':') {
                continue;
            }
            paths_at(&code[at + root.len()..], "", &mut found);
        }
    }
    for (at, _) in code.match_indices("super::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| is_ident(c) || c == ':') {
            continue;
        }
        let mut parts: Vec<&str> = module.split("::").collect();
        let mut rest = &code[at..];
        while let Some(after) = rest.strip_prefix("super::") {
            parts.pop();
            rest = after;
        }
        paths_at(rest, &parts.join("::"), &mut found);
    }
    found
}

fn sources(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// Every `(file, referenced module)` that reaches above the file's layer.
fn violations(src: &Path) -> BTreeSet<String> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let mut found = BTreeSet::new();
    for file in files {
        let module = module_of(src, &file);
        let Some(own) = layer_of(&module) else {
            continue;
        };
        let code = code(&fs::read_to_string(&file).unwrap());
        for target in references(&module, &code) {
            if let Some(theirs) = layer_of(&target) {
                if theirs < own {
                    found.insert(format!(
                        "{} ({}) uses {target} ({})",
                        file.strip_prefix(src).unwrap().display(),
                        LAYERS[own].0,
                        LAYERS[theirs].0
                    ));
                }
            }
        }
    }
    found
}

/// The part of a layer a module belongs to: its longest prefix in
/// [`LAYERS`] (`server::rest::items` → `server::rest`).
fn part_of(module: &str) -> Option<&'static str> {
    LAYERS
        .iter()
        .flat_map(|(_, prefixes)| prefixes.iter().copied())
        .filter(|prefix| {
            module == *prefix
                || module
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with("::"))
        })
        .max_by_key(|prefix| prefix.len())
}

/// The parts of one layer that use each other in a circle, as
/// `a -> b -> a`: parts beside each other may use one another, but not
/// both ways round (which ties them into one).
fn circles(src: &Path) -> BTreeSet<String> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let mut uses: BTreeSet<(&'static str, &'static str)> = BTreeSet::new();
    for file in files {
        let module = module_of(src, &file);
        let Some(own) = part_of(&module) else {
            continue;
        };
        let code = code(&fs::read_to_string(&file).unwrap());
        for target in references(&module, &code) {
            if let Some(theirs) = part_of(&target) {
                if theirs != own && layer_of(own) == layer_of(theirs) {
                    uses.insert((own, theirs));
                }
            }
        }
    }
    // A path from `to` back to `from` closes a circle with the edge
    // `from -> to`.
    let path = |from: &'static str, to: &'static str| -> Option<Vec<&'static str>> {
        let mut paths = vec![vec![to]];
        let mut seen = BTreeSet::from([to]);
        while let Some(walk) = paths.pop() {
            let last = *walk.last().unwrap();
            if last == from {
                return Some(walk);
            }
            for &(a, b) in &uses {
                if a == last && seen.insert(b) {
                    let mut longer = walk.clone();
                    longer.push(b);
                    paths.push(longer);
                }
            }
        }
        None
    };
    uses.iter()
        .filter_map(|&(from, to)| path(from, to).map(|walk| (from, walk)))
        .map(|(from, walk)| format!("{from} -> {}", walk.join(" -> ")))
        .collect()
}

#[test]
fn no_two_parts_of_a_layer_use_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = circles(&src);
    assert!(
        found.is_empty(),
        "parts of one layer that use each other in a circle:\n{}",
        found.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn every_module_imports_only_from_its_layer_or_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "imports from a layer above (see the layers at the top of tests/layers.rs):\n{}",
        found.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn every_module_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let unplaced: Vec<String> = files
        .iter()
        .map(|file| module_of(&src, file))
        .filter(|module| !["lib", "server"].contains(&module.as_str()))
        .filter(|module| layer_of(module).is_none())
        .collect();
    assert!(unplaced.is_empty(), "modules with no layer: {unplaced:?}");
}

/// What `check` finds in a source tree of `files` (path, text), written
/// to a folder of its own and removed afterwards.
fn found_in(
    name: &str,
    files: &[(&str, &str)],
    check: fn(&Path) -> BTreeSet<String>,
) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    for (path, text) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    let found = check(&dir).into_iter().collect();
    fs::remove_dir_all(&dir).unwrap();
    found
}

/// The check itself catches what it is for.
#[test]
fn an_import_from_above_is_found_and_one_from_below_is_not() {
    let found = found_in(
        "layers",
        &[
            (
                "server/http/front.rs",
                "use crate::server::{rest::ApiError, telemetry::Metrics};\n\
                 // use crate::app::shell; (a comment)\n\
                 fn f() { super::super::store::open(); }\n\
                 #[cfg(test)]\nmod tests { use crate::server::startup::DOORS; }\n",
            ),
            (
                "domain/mod.rs",
                "pub use self::item::Item;\nfn g() -> crate::server::state::AppState { todo!() }\n",
            ),
        ],
        violations,
    );
    assert_eq!(
        found,
        [
            "domain/mod.rs (domain) uses server::state (doors)",
            "server/http/front.rs (front layer) uses server::rest (doors)",
        ]
    );
}

/// The circle check itself catches a circle, and not one-way use.
#[test]
fn parts_of_a_layer_that_use_each_other_are_found() {
    let found = found_in(
        "circles",
        &[
            (
                "server/state.rs",
                "use crate::server::rest::JsonPage;\nuse crate::server::cache::PageCache;\n",
            ),
            (
                "server/rest/mod.rs",
                "use crate::server::state::AppState;\n",
            ),
            (
                "server/page_cache.rs",
                "use crate::server::state::AppState;\n",
            ),
        ],
        circles,
    );
    assert_eq!(
        found,
        [
            "server::rest -> server::state -> server::rest",
            "server::state -> server::rest -> server::state",
        ]
    );
}
