//! Mounts that start with a copy of the image's files at their path ([`Seed`]): what each
//! platform needs to make that copy, shared by the fix snippets and the patches.
//!
//! Docker and podman fill a new volume from the image by themselves. Kubernetes and ECS do not:
//! a container of the app's image copies the files into the volume, mounted at [`SEED_AT`],
//! before the app starts, and writes nowhere else.

use crate::model::{Mount, Seed};

pub(crate) use crate::profile::{seed_command as command, Copier, SEED_AT};

/// `m` starts with a copy of the image's files made afresh at every start.
pub(crate) fn fresh(m: &Mount) -> bool {
    m.starts_with() == Seed::Fresh
}

/// `starts with a copy of the image's /data[, copied in once, when the volume is new]`, or None
/// for a mount that starts empty.
pub(crate) fn describe(m: &Mount, path: &str) -> Option<String> {
    let copy = format!("starts with a copy of the image's {path}");
    match m.starts_with() {
        Seed::Empty => None,
        Seed::Fresh => Some(copy),
        Seed::Once => Some(format!("{copy}, copied in once, when the volume is new")),
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
