//! Mounts that start with a copy of the image's files at their path ([`Seed`]): what each
//! platform needs to make that copy, shared by the fix snippets and the patches.
//!
//! Docker and podman fill a new volume from the image by themselves. Kubernetes and ECS do not:
//! a container of the app's image copies the files into the volume, mounted at [`SEED_AT`],
//! before the app starts, and writes nowhere else.

use super::escape::shell_quote;
use crate::model::{Mount, MountKind, Seed};

/// Where a seed container mounts the volume it fills.
pub(crate) const SEED_AT: &str = "/seed";

/// What `m` starts with, as its fix makes it: a tmpfs is new at every start, so one that starts
/// with the image's files once starts with them every time.
pub(crate) fn seed(m: &Mount) -> Seed {
    match (m.seed, m.kind) {
        (Seed::Once, MountKind::Tmpfs) => Seed::Fresh,
        (seed, _) => seed,
    }
}

pub(crate) fn fresh(m: &Mount) -> bool {
    seed(m) == Seed::Fresh
}

/// `starts with a copy of the image's /data[, copied in once, when the volume is new]`, or None
/// for a mount that starts empty.
pub(crate) fn describe(m: &Mount, path: &str) -> Option<String> {
    let copy = format!("starts with a copy of the image's {path}");
    match seed(m) {
        Seed::Empty => None,
        Seed::Fresh => Some(copy),
        Seed::Once => Some(format!("{copy}, copied in once, when the volume is new")),
    }
}

/// Who a seed container runs as, which decides how it may copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Copier {
    /// Root, into a volume that is root's (an ECS task volume): `cp -a` of the directory gives
    /// the volume the owner and mode the image's directory has, and its files theirs.
    Root,
    /// The app's user, into a volume it may write but does not own (a Kubernetes emptyDir or
    /// claim, made writable by fsGroup): each entry is copied on its own, since `cp -a` of the
    /// directory would fail setting the volume's own times and mode.
    User,
}

/// The seed container's command: copy the image's `path` into [`SEED_AT`], every time for
/// [`Seed::Fresh`], only while the volume is empty for [`Seed::Once`] (which takes `sh`).
pub(crate) fn command(path: &str, seed: Seed, copier: Copier) -> Vec<String> {
    let from = format!("{}/.", path.trim_end_matches('/'));
    let to = format!("{SEED_AT}/");
    let copy: Vec<String> = match copier {
        Copier::Root => vec!["cp".into(), "-a".into(), from, to],
        Copier::User => [
            "find",
            &from,
            "-mindepth",
            "1",
            "-maxdepth",
            "1",
            "-exec",
            "cp",
            "-a",
            "{}",
            &to,
            ";",
        ]
        .map(String::from)
        .to_vec(),
    };
    match seed {
        Seed::Once => {
            let words: Vec<String> = copy.iter().map(|w| shell_quote(w)).collect();
            let script = format!("[ -n \"$(ls -A {SEED_AT})\" ] || {}", words.join(" "));
            vec!["sh".into(), "-c".into(), script]
        }
        _ => copy,
    }
}

/// The name of each seed container, `seed-` and the name of the volume it fills, each a DNS
/// label of its own (63 characters at most).
pub(crate) fn names<'a>(volumes: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut names: Vec<String> = vec![];
    for volume in volumes {
        let name = unique(&format!("seed-{volume}"), |n| names.iter().any(|t| t == n));
        names.push(name);
    }
    names
}

/// `base`, else `base-2`, `base-3`...: the first that is not `taken`, cut to 63 characters.
pub(crate) fn unique(base: &str, taken: impl Fn(&str) -> bool) -> String {
    let cut = |n: usize| base[..base.len().min(n)].trim_end_matches('-').to_string();
    let mut name = cut(63);
    let mut n = 2;
    while taken(&name) {
        let suffix = format!("-{n}");
        name = cut(63 - suffix.len()) + &suffix;
        n += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_as_root_is_cp_and_as_the_user_copies_each_entry() {
        assert_eq!(
            command("/var/cache/app", Seed::Fresh, Copier::Root),
            ["cp", "-a", "/var/cache/app/.", "/seed/"]
        );
        assert_eq!(
            command("/var/lib/app", Seed::Once, Copier::Root),
            [
                "sh",
                "-c",
                "[ -n \"$(ls -A /seed)\" ] || cp -a /var/lib/app/. /seed/"
            ]
        );
        assert_eq!(
            command("/srv/my data/", Seed::Once, Copier::User),
            [
                "sh",
                "-c",
                "[ -n \"$(ls -A /seed)\" ] || find '/srv/my data/.' -mindepth 1 -maxdepth 1 \
                 -exec cp -a '{}' /seed/ ';'"
            ]
        );
        assert_eq!(
            command("/srv", Seed::Fresh, Copier::User).join(" "),
            "find /srv/. -mindepth 1 -maxdepth 1 -exec cp -a {} /seed/ ;"
        );
    }

    #[test]
    fn seed_names_are_unique_dns_labels() {
        let long = "a".repeat(63);
        let names = names(["var-run", long.as_str(), long.as_str()]);
        assert_eq!(names[0], "seed-var-run");
        assert_eq!(names[1].len(), 63);
        assert!(
            names[2].ends_with("-2") && names[2].len() == 63,
            "{names:?}"
        );
    }
}
