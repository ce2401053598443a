//! Root-cause remedies: a catalogue in data (remedies.yaml, extensible with --remedies FILE)
//! matched against the image's command, environment, user and failing writes.

use anyhow::{anyhow, Result};
use serde::Deserialize;

use crate::model::{Remedy, Trace, Write};

const BUILTIN: &str = include_str!("remedies.yaml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    pub title: String,
    pub fix: String,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub env_unset: Vec<String>,
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Clone)]
pub struct Catalogue(Vec<Entry>);

/// The built-in catalogue as shipped: `rofs-audit remedies` prints it, the shape for --remedies.
pub fn builtin_text() -> &'static str {
    BUILTIN
}

impl Catalogue {
    pub fn builtin() -> Catalogue {
        Catalogue(serde_yaml::from_str(BUILTIN).expect("the built-in remedies parse"))
    }

    /// The built-in catalogue plus entries from `path`; an entry with a built-in id replaces it.
    pub fn with_file(path: &std::path::Path) -> Result<Catalogue> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow!(
                "cannot read {}: {e}; check the path given to --remedies",
                path.display()
            )
        })?;
        let extra: Vec<Entry> = serde_yaml::from_str(&text).map_err(|e| {
            let at = e
                .location()
                .map_or(String::new(), |l| format!(":{}:{}", l.line(), l.column()));
            anyhow!(
                "{}{at}: {}; `rofs-audit remedies` prints the built-in catalogue, the shape to follow",
                path.display(),
                crate::engine::one_line(&e.to_string())
            )
        })?;
        let mut all = Catalogue::builtin().0;
        all.retain(|b| !extra.iter().any(|e| e.id == b.id));
        all.extend(extra);
        Ok(Catalogue(all))
    }

    pub fn matches(&self, trace: &Trace, failing: &[&Write]) -> Vec<Remedy> {
        let home = home_of(trace);
        let words: Vec<&str> = trace
            .run
            .entrypoint
            .iter()
            .chain(&trace.run.cmd)
            .map(String::as_str)
            .collect();
        let env: Vec<&str> = trace
            .image
            .env_names
            .iter()
            .chain(&trace.run.env_names)
            .map(String::as_str)
            .collect();
        let root = trace.run.runs_as_root();
        self.0
            .iter()
            .filter_map(|entry| {
                let command_ok =
                    entry.command.is_empty() || contains_in_order(&words, &entry.command);
                let env_ok = entry.env_unset.iter().all(|v| !env.contains(&v.as_str()));
                let user_ok = entry.user.as_deref() != Some("root") || root;
                if !(command_ok && env_ok && user_ok) {
                    return None;
                }
                let paths: Vec<String> = failing
                    .iter()
                    .filter(|w| {
                        entry
                            .paths
                            .iter()
                            .any(|g| glob(&expand_home(g, &home), &w.path))
                    })
                    .map(|w| w.path.clone())
                    .collect();
                // A remedy found by its command alone still applies when its writes went unseen.
                let applies = if entry.command.is_empty() {
                    !paths.is_empty()
                } else {
                    !failing.is_empty()
                };
                applies.then(|| Remedy {
                    id: entry.id.clone(),
                    title: entry.title.clone(),
                    fix: entry.fix.clone(),
                    paths,
                })
            })
            .collect()
    }
}

/// The app's HOME: root's for root, else the home the writes show (`/home/NAME/...`).
fn home_of(trace: &Trace) -> String {
    if trace.run.runs_as_root() {
        return "/root".to_string();
    }
    trace
        .writes
        .iter()
        .find_map(|w| {
            let rest = w.path.strip_prefix("/home/")?;
            Some(format!("/home/{}", rest.split('/').next()?))
        })
        .unwrap_or_else(|| format!("/home/{}", trace.run.user_name()))
}

fn expand_home(glob: &str, home: &str) -> String {
    match glob.strip_prefix('~') {
        Some(rest) => format!("{home}{rest}"),
        None => glob.to_string(),
    }
}

/// The words of `needle` appear in `haystack` in order, one after the other. Matches on the
/// last path component, so `/usr/local/bin/uv run` is `uv run`.
fn contains_in_order(haystack: &[&str], needle: &[String]) -> bool {
    let base = |w: &str| w.rsplit('/').next().unwrap_or(w).to_string();
    haystack
        .windows(needle.len())
        .any(|win| win.iter().zip(needle).all(|(h, n)| base(h) == *n))
}

/// Glob match on paths: `*` and `?` stay within one component, `**` spans any number of them.
pub fn glob(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p {
            [] => s.is_empty(),
            [b'*', b'*', rest @ ..] => {
                let rest = rest.strip_prefix(b"/").unwrap_or(rest);
                if rest.is_empty() {
                    return true;
                }
                (0..=s.len()).any(|i| (i == 0 || s[i - 1] == b'/') && go(rest, &s[i..]))
            }
            [b'*', rest @ ..] => (0..=s.len())
                .take_while(|&i| i == 0 || s[i - 1] != b'/')
                .any(|i| go(rest, &s[i..])),
            [b'?', rest @ ..] => s.first().is_some_and(|&c| c != b'/') && go(rest, &s[1..]),
            [c, rest @ ..] => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    go(pattern.as_bytes(), path.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_within_and_across_components() {
        assert!(glob("**/__pycache__/**", "/app/app/__pycache__/x.pyc"));
        assert!(glob("/tmp/uv-*", "/tmp/uv-1c83.lock"));
        assert!(!glob("/tmp/uv-*", "/tmp/uv-1/x"));
        assert!(glob("/home/a/.cache/uv/**", "/home/a/.cache/uv/.lock"));
        assert!(glob("**/*.log", "/var/app/x.log"));
        assert!(!glob("/etc/**", "/etcetera/x"));
    }

    #[test]
    fn commands_match_by_words_in_order() {
        let cmd = ["/usr/local/bin/uv", "run", "python", "-m", "app"];
        assert!(contains_in_order(&cmd, &["uv".into(), "run".into()]));
        assert!(!contains_in_order(&cmd, &["poetry".into(), "run".into()]));
    }

    #[test]
    fn the_builtin_catalogue_parses_and_ids_are_unique() {
        let c = Catalogue::builtin();
        let mut ids: Vec<&str> = c.0.iter().map(|e| e.id.as_str()).collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert!(n >= 13);
    }
}
