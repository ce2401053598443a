//! No source file imports a module that imports it back, the library's or the binary's: a
//! module's mod.rs declares and re-exports its files, and what they share has a file of its own.
//! Paths are read from the source text (`crate::`, `super::`, `self::`, and a child module's
//! name), outside comments and the test module that ends a file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module path (`["report", "patch"]`) for each source file, per crate.
type Files = BTreeMap<Vec<String>, String>;

fn module_of(relative: &str) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn sources(dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path.strip_prefix("src/").unwrap().display().to_string());
        }
    }
}

/// The code of a file without comments and without its test module (clippy keeps that last).
fn code(text: &str) -> String {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    let lines = text[..end]
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""));
    lines.collect::<Vec<_>>().join("\n")
}

/// Every path of two or more segments in `code`, as its segments.
fn paths(code: &str) -> Vec<Vec<&str>> {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = vec![];
    let mut rest = code;
    while let Some(start) = rest.find(word) {
        // A path begins where no `::` leads into it.
        let preceded = rest[..start].trim_end().ends_with("::");
        let tail = &rest[start..];
        let mut segments = vec![];
        let mut at = tail;
        loop {
            let len = at.find(|c: char| !word(c)).unwrap_or(at.len());
            segments.push(&at[..len]);
            match at[len..].strip_prefix("::") {
                Some(next) if next.starts_with(word) => at = next,
                // `use a::{b, c}`: each item joins the prefix.
                Some(next) if next.starts_with('{') => {
                    let close = next.find('}').unwrap_or(next.len());
                    for item in next[1..close].split(',') {
                        let item = item.trim().split("::").next().unwrap_or("");
                        if !item.is_empty() && item != "self" {
                            let mut path = segments.clone();
                            path.push(item);
                            found.push(path);
                        }
                    }
                    at = &next[close..];
                    break;
                }
                _ => {
                    at = &at[len..];
                    break;
                }
            }
        }
        if !preceded && segments.len() > 1 {
            found.push(segments);
        }
        let consumed = tail.len() - at.len();
        rest = &tail[consumed.max(1)..];
    }
    found
}

/// The file a path names, from the module `me` in `crate_files`.
fn target<'a>(files: &'a Files, me: &[String], path: &[&str]) -> Option<&'a String> {
    let mut full: Vec<String> = match path[0] {
        "crate" => vec![],
        "super" => me[..me.len().saturating_sub(1)].to_vec(),
        "self" => me.to_vec(),
        child if files.contains_key(&[me, &[child.to_string()]].concat()) => me.to_vec(),
        _ => return None,
    };
    let skip = usize::from(matches!(path[0], "crate" | "super" | "self"));
    full.extend(path[skip..].iter().map(|s| s.to_string()));
    (1..=full.len()).rev().find_map(|n| files.get(&full[..n]))
}

/// A cycle through `from`, as the files in order, if there is one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_string(), vec![from.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((file, trail)) = stack.pop() {
        for next in edges.get(&file).into_iter().flatten() {
            if next == from {
                return Some([trail.clone(), vec![next.clone()]].concat());
            }
            if seen.insert(next.clone()) {
                stack.push((next.clone(), [trail.clone(), vec![next.clone()]].concat()));
            }
        }
    }
    None
}

#[test]
fn no_source_file_imports_a_module_that_imports_it_back() {
    let mut found = vec![];
    sources(Path::new("src"), &mut found);
    // The binary (main.rs and the cli module) is a crate of its own.
    let binary = |f: &String| f == "main.rs" || f.starts_with("cli/");
    let (bin, lib): (Vec<_>, Vec<_>) = found.into_iter().partition(binary);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for files in [lib, bin] {
        let table: Files = files.iter().map(|f| (module_of(f), f.clone())).collect();
        for (me, file) in &table {
            let text = std::fs::read_to_string(Path::new("src").join(file)).unwrap();
            for path in paths(&code(&text)) {
                if let Some(to) = target(&table, me, &path).filter(|to| *to != file) {
                    edges.entry(file.clone()).or_default().insert(to.clone());
                }
            }
        }
    }
    assert!(
        edges.values().map(BTreeSet::len).sum::<usize>() > 100,
        "the scan finds the imports: {edges:?}"
    );
    let cycles: Vec<String> = edges
        .keys()
        .filter_map(|file| cycle(&edges, file))
        .map(|c| c.join(" -> "))
        .collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_scan_sees_a_child_that_imports_its_parent() {
    // What the scan is for, on a tree made up here: mod.rs calls its child, which takes an
    // item from it.
    let table: Files = [
        (vec!["report".to_string()], "report/mod.rs".to_string()),
        (
            vec!["report".to_string(), "text".to_string()],
            "report/text.rs".to_string(),
        ),
    ]
    .into();
    let (parent, child) = (
        code("pub fn render() { text::render() } // crate::nothing"),
        code("use super::{RenderOptions, escape};\n"),
    );
    let (parent, child) = (paths(&parent), paths(&child));
    let me = ["report".to_string()];
    let to_child = parent.iter().filter_map(|p| target(&table, &me, p));
    assert_eq!(to_child.collect::<Vec<_>>(), ["report/text.rs"]);
    let me = ["report".to_string(), "text".to_string()];
    let to_parent = child.iter().filter_map(|p| target(&table, &me, p));
    assert_eq!(
        to_parent.collect::<Vec<_>>(),
        ["report/mod.rs", "report/mod.rs"]
    );
}
