//! Platform profiles: what stays writable under a read-only root on each platform, whether tmpfs
//! mounts can be added and with which limits, and how a fix is written there. The built-in
//! profiles live in profiles/*.yaml and are embedded in the binary; `--profile FILE` reads one
//! from disk.

use serde::{Deserialize, Serialize};

use crate::model::{is_within, Mount, MountOwner, Seed, TmpfsSpec};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub title: String,
    pub summary: String,
    /// How the platform turns a read-only root on, e.g. `readonlyRootFilesystem: true`.
    pub read_only_setting: String,
    /// Paths that stay writable under a read-only root with no configuration at all.
    pub writable: Vec<WritablePath>,
    /// Whether the container gets a /dev/shm.
    pub shm: bool,
    /// Whether writes into the image's declared VOLUMEs land on a writable volume.
    pub image_volumes_writable: bool,
    /// What a new volume holds when the app starts: the proof runs state volumes so.
    #[serde(default)]
    pub volume_start: VolumeStart,
    pub tmpfs: Tmpfs,
    /// Disk-backed scratch space where tmpfs is unavailable, or as an alternative to it.
    #[serde(default)]
    pub fallback: Option<Fallback>,
    /// Fix formats shown by default for this profile.
    pub emit: Vec<FixFormat>,
    /// Where the facts above come from.
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WritablePath {
    pub path: String,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tmpfs {
    /// Whether tmpfs mounts can be added to the container.
    pub available: bool,
    #[serde(default)]
    pub max_size_mib: Option<u64>,
    /// How a mount is made writable for a non-root app.
    pub owner: TmpfsOwner,
    pub note: String,
}

/// What a new volume of the fix holds when the app first starts.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum VolumeStart {
    /// The image's files and owner at its path (Docker's and podman's named volumes).
    #[default]
    Image,
    /// The image's files and owner only at a path the image declares a VOLUME; anywhere else
    /// empty and root-owned 0755 (ECS bind mounts).
    ImageVolume,
    /// Empty, and the app's own through the platform's owner mechanism (Kubernetes: fsGroup).
    Empty,
}

/// What makes a volume at `dir` start with the app's owner where the platform copies in only an
/// image VOLUME: the image gives the directory that owner and declares it a VOLUME.
pub fn declare_volume(dir: &str, owner: Option<MountOwner>) -> String {
    let chown = match owner {
        Some(o) => format!(
            "uid {}'s (RUN mkdir -p {dir} && chown {}:{} {dir})",
            o.uid, o.uid, o.gid
        ),
        None => "the app's (chown)".to_string(),
    };
    format!("in the image, make {dir} {chown} and declare VOLUME {dir}, so that the volume takes that owner")
}

impl VolumeStart {
    /// Whether a new volume holds the image's files and owner at its path, `declared` telling
    /// whether the image declares a VOLUME there: then it hides nothing of the image.
    pub fn from_image(self, declared: bool) -> bool {
        match self {
            VolumeStart::Image => true,
            VolumeStart::ImageVolume => declared,
            VolumeStart::Empty => false,
        }
    }
}

/// How a platform makes a mount belong to the app's user. Docker does not carry an image
/// directory's owner over to a tmpfs, so a non-root app needs one of these.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum TmpfsOwner {
    /// `uid=` and `gid=` mount options (Docker, ECS).
    Options,
    /// podman's `U` option: the mount is chowned to the container's user.
    Chown,
    /// No owner options; the pod's `securityContext.fsGroup` makes volumes group-writable.
    FsGroup,
    /// Nothing sets the owner.
    None,
}

impl TmpfsOwner {
    /// The mount options that give a mount to `owner` (none where the mechanism is no option).
    pub fn options(self, owner: MountOwner) -> Vec<String> {
        match self {
            TmpfsOwner::Options => vec![format!("uid={}", owner.uid), format!("gid={}", owner.gid)],
            TmpfsOwner::Chown => vec!["U".to_string()],
            TmpfsOwner::FsGroup | TmpfsOwner::None => vec![],
        }
    }
}

/// `m`'s options with its owner given the way `wanted` gives it: a plan speaks its profile's
/// terms (`uid=` on ECS, `U` on podman), and another platform's fix, or the proof on Docker,
/// needs its own.
pub fn mount_options(m: &Mount, planned: TmpfsOwner, wanted: TmpfsOwner) -> Vec<String> {
    let Some(owner) = m.owner else {
        return m.options.clone();
    };
    let planned = planned.options(owner);
    let mut options: Vec<String> = m
        .options
        .iter()
        .filter(|o| !planned.contains(o))
        .cloned()
        .collect();
    options.extend(wanted.options(owner));
    options
}

/// `m` as `docker run --tmpfs` takes it: the mount point and `OPTIONS,size=Nm`.
pub fn docker_tmpfs(m: &Mount, planned: TmpfsOwner) -> TmpfsSpec {
    let mut options = mount_options(m, planned, TmpfsOwner::Options);
    options.push(format!("size={}m", m.size_mib));
    TmpfsSpec::new(&m.path, options.join(","))
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    pub kind: String,
    /// Whether the fallback is a disk-backed mount the fix can add (a volume), rather than a
    /// change to the app (write somewhere already writable).
    pub mount: bool,
    pub note: String,
}

crate::choice::choice_enum! {
    #[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
    #[serde(rename_all = "kebab-case")]
    pub enum FixFormat {
        Docker = "docker": "docker run flags",
        Podman = "podman": "podman run flags",
        Compose = "compose": "a docker compose service snippet",
        Ecs = "ecs": "an ECS task definition container fragment",
        Cdk = "cdk": "AWS CDK TypeScript",
        Kubernetes = "kubernetes": "a Kubernetes container securityContext and emptyDir volumes",
    }
}

/// The profile used when none is named: the first user runs on ECS Fargate.
pub const DEFAULT_PROFILE: &str = "ecs-fargate";

/// The built-in profiles as embedded text, in listing order: the default first, then by name.
const BUILTIN: &[(&str, &str)] = &[
    ("ecs-fargate", include_str!("../profiles/ecs-fargate.yaml")),
    ("docker", include_str!("../profiles/docker.yaml")),
    ("ecs-ec2", include_str!("../profiles/ecs-ec2.yaml")),
    ("kubernetes", include_str!("../profiles/kubernetes.yaml")),
    ("lambda", include_str!("../profiles/lambda.yaml")),
    ("podman", include_str!("../profiles/podman.yaml")),
];

/// The fix every parse error points to: a valid profile to copy from.
const SEE_VALID: &str = "see `rofs-audit profiles show ecs-fargate` for a valid profile";

/// The names of the built-in profiles, in listing order (the default first, then by name).
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(name, _)| *name).collect()
}

/// Every built-in profile, parsed, in listing order: ecs-fargate first, then by name.
pub fn builtin() -> Vec<Profile> {
    BUILTIN
        .iter()
        .map(|(name, text)| {
            parse(&builtin_source(name), text)
                .unwrap_or_else(|e| panic!("built-in profile {name} is invalid: {e:#}"))
        })
        .collect()
}

/// How a built-in profile is named in messages: the file it was embedded from.
fn builtin_source(name: &str) -> String {
    format!("profiles/{name}.yaml")
}

/// A built-in profile by name, or a profile read from a YAML file.
///
/// `name_or_path` is a path when it contains '/' or ends in `.yaml`/`.yml`, otherwise the name of
/// a built-in profile. Every error is one line that names the problem and the fix.
pub fn load(name_or_path: &str) -> anyhow::Result<Profile> {
    if is_path(name_or_path) {
        let text = std::fs::read_to_string(name_or_path).map_err(|e| {
            anyhow::anyhow!(
                "cannot read profile file {name_or_path}: {e}; give a readable YAML file or a \
                 built-in name ({})",
                known_names()
            )
        })?;
        return parse(name_or_path, &text);
    }
    match BUILTIN.iter().find(|(name, _)| *name == name_or_path) {
        Some((name, text)) => parse(&builtin_source(name), text),
        None => anyhow::bail!(
            "unknown profile {name_or_path:?}; known profiles: {}; or give a path to a YAML file",
            known_names()
        ),
    }
}

pub fn is_path(name_or_path: &str) -> bool {
    name_or_path.contains('/') || name_or_path.ends_with(".yaml") || name_or_path.ends_with(".yml")
}

/// The built-in names, sorted, comma-separated.
fn known_names() -> String {
    let mut names = builtin_names();
    names.sort_unstable();
    names.join(", ")
}

/// Parses and validates a profile. `source` names it in errors (`FILE:LINE:COL: ...`).
pub fn parse(source: &str, text: &str) -> anyhow::Result<Profile> {
    let profile: Profile = serde_yaml_ng::from_str(text)
        .map_err(|e| crate::input::yaml_error(source, &e, SEE_VALID))?;
    profile.validate(source)?;
    Ok(profile)
}

impl Profile {
    /// The fix formats to show: the profile's own, then `extra` ones it does not have.
    pub fn emit_with(&self, extra: &[FixFormat]) -> Vec<FixFormat> {
        let mut emit = self.emit.clone();
        emit.extend(extra.iter().filter(|f| !self.emit.contains(f)));
        emit
    }

    /// Checks what serde cannot: a non-empty name, absolute normalized writable paths, and a
    /// positive tmpfs size limit. The error names `source` and the field.
    fn validate(&self, source: &str) -> anyhow::Result<()> {
        if self.name.trim().is_empty() {
            anyhow::bail!(
                "{source}: name is empty; give the profile a name, e.g. name: my-platform"
            );
        }
        for (i, w) in self.writable.iter().enumerate() {
            if !w.path.starts_with('/') {
                anyhow::bail!(
                    "{source}: writable[{i}].path {:?} is not absolute; write it from the root, \
                     e.g. /tmp",
                    w.path
                );
            }
            if w.path.split('/').any(|c| c == "." || c == "..") {
                anyhow::bail!(
                    "{source}: writable[{i}].path {:?} has a . or .. component; write the path \
                     it means",
                    w.path
                );
            }
        }
        if self.tmpfs.max_size_mib == Some(0) {
            anyhow::bail!(
                "{source}: tmpfs.max_size_mib is 0; give the platform's limit in MiB or leave it out"
            );
        }
        Ok(())
    }

    /// Whether `path` stays writable under a read-only root with no configuration: it equals or
    /// is below one of `writable` (component-wise: /tmpfoo is not below /tmp).
    pub fn is_writable(&self, path: &str) -> bool {
        self.writable.iter().any(|w| is_within(path, &w.path))
    }
}

/// The table `rofs-audit profiles` prints: NAME, TMPFS, TITLE, the default marked.
pub fn render_list() -> String {
    let rows: Vec<(String, &str, String)> = builtin()
        .into_iter()
        .map(|p| {
            let name = if p.name == DEFAULT_PROFILE {
                format!("{} (default)", p.name)
            } else {
                p.name.clone()
            };
            let tmpfs = if p.tmpfs.available { "yes" } else { "no" };
            (name, tmpfs, p.title)
        })
        .collect();
    let width = rows
        .iter()
        .map(|r| r.0.len())
        .max()
        .unwrap_or(0)
        .max("NAME".len());
    let mut out = format!("{:<width$}  {:<5}  {}\n", "NAME", "TMPFS", "TITLE");
    for (name, tmpfs, title) in &rows {
        out.push_str(&format!("{name:<width$}  {tmpfs:<5}  {title}\n"));
    }
    out
}

/// The profile as YAML, for `rofs-audit profiles show NAME`; it loads back as the same profile.
pub fn render_show(p: &Profile) -> String {
    serde_yaml_ng::to_string(p).expect("profiles serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A minimal valid profile; tests edit single lines of it.
    const MINIMAL: &str = "\
name: minimal
title: Minimal
summary: s
read_only_setting: r
writable:
  - path: /tmp
    note: n
shm: true
image_volumes_writable: false
tmpfs:
  available: true
  owner: options
  note: n
emit: [docker]
sources: [https://example.com]
";

    /// Writes `text` to a fresh file under the system temp dir and returns its path.
    fn temp_file(stem: &str, text: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rofs-audit-profile-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{stem}.yaml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn by_name(name: &str) -> Profile {
        load(name).unwrap()
    }

    fn writable_paths(p: &Profile) -> Vec<&str> {
        p.writable.iter().map(|w| w.path.as_str()).collect()
    }

    #[test]
    fn every_builtin_parses_and_validates() {
        let all = builtin();
        assert_eq!(all.len(), BUILTIN.len());
        for p in &all {
            p.validate(&builtin_source(&p.name)).unwrap();
            assert!(!p.sources.is_empty(), "{}: no sources", p.name);
            for s in &p.sources {
                assert!(
                    s.starts_with("https://"),
                    "{}: source {s} is not a URL",
                    p.name
                );
            }
            for w in &p.writable {
                assert!(
                    !w.note.trim().is_empty(),
                    "{}: {} has no note",
                    p.name,
                    w.path
                );
            }
        }
    }

    #[test]
    fn names_match_file_names_and_every_file_is_embedded() {
        for (name, text) in BUILTIN {
            assert_eq!(parse(name, text).unwrap().name, *name);
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter_map(|f| f.strip_suffix(".yaml").map(str::to_string))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = builtin_names().iter().map(|n| n.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn listing_order_is_default_first_then_by_name() {
        let names = builtin_names();
        assert_eq!(names[0], DEFAULT_PROFILE);
        let mut rest = names[1..].to_vec();
        rest.sort_unstable();
        assert_eq!(names[1..], rest[..]);
        let parsed: Vec<String> = builtin().into_iter().map(|p| p.name).collect();
        assert_eq!(parsed, names);
    }

    #[test]
    fn ecs_fargate_is_the_default_with_tmpfs_and_owner_options() {
        assert_eq!(DEFAULT_PROFILE, "ecs-fargate");
        let p = by_name(DEFAULT_PROFILE);
        assert!(p.tmpfs.available);
        assert_eq!(p.tmpfs.owner, TmpfsOwner::Options);
        assert!(p.shm);
        assert!(p.is_writable("/dev/shm/gunicorn-heartbeat"));
        assert!(!p.is_writable("/tmp/x"));
        assert!(!p.image_volumes_writable);
        assert_eq!(p.fallback.as_ref().unwrap().kind, "bind-mount-volume");
        assert_eq!(p.emit, [FixFormat::Ecs, FixFormat::Cdk, FixFormat::Docker]);
    }

    #[test]
    fn lambda_has_no_tmpfs_no_shm_and_only_tmp_writable() {
        let p = by_name("lambda");
        assert!(!p.tmpfs.available);
        assert!(!p.shm);
        assert_eq!(writable_paths(&p), ["/tmp"]);
        assert!(p.is_writable("/tmp"));
        assert!(p.is_writable("/tmp/cache/x"));
        assert!(!p.is_writable("/dev/shm/x"));
        assert!(!p.is_writable("/var/task/x"));
        assert!(p.emit.is_empty());
    }

    #[test]
    fn platform_facts() {
        let podman = by_name("podman");
        for path in ["/dev", "/dev/shm", "/run", "/tmp", "/var/tmp"] {
            assert!(podman.is_writable(path), "podman: {path}");
        }
        assert!(
            podman.tmpfs.owner == TmpfsOwner::Chown,
            "podman rejects tmpfs uid=/gid="
        );

        let k8s = by_name("kubernetes");
        assert!(k8s.tmpfs.available);
        assert_eq!(k8s.tmpfs.owner, TmpfsOwner::FsGroup);
        assert!(k8s.tmpfs.note.contains("fsGroup"));
        assert_eq!(k8s.fallback.as_ref().unwrap().kind, "emptyDir");

        for name in ["docker", "podman", "ecs-ec2"] {
            assert!(by_name(name).image_volumes_writable, "{name}");
        }
        for name in ["ecs-fargate", "kubernetes", "lambda"] {
            assert!(!by_name(name).image_volumes_writable, "{name}");
        }
        for name in ["docker", "ecs-ec2", "ecs-fargate", "kubernetes"] {
            let p = by_name(name);
            assert_eq!(writable_paths(&p), ["/dev/shm", "/dev"], "{name}");
            assert!(p.shm && p.tmpfs.available, "{name}");
        }

        use FixFormat::*;
        let emit = |name: &str| by_name(name).emit;
        assert_eq!(emit("ecs-ec2"), [Ecs, Cdk, Docker]);
        assert_eq!(emit("kubernetes"), [Kubernetes]);
        assert_eq!(emit("docker"), [Docker, Compose]);
        assert_eq!(emit("podman"), [Podman]);
    }

    #[test]
    fn is_writable_compares_whole_components() {
        let p = parse("test", MINIMAL).unwrap();
        assert!(p.is_writable("/tmp"));
        assert!(p.is_writable("/tmp/"));
        assert!(p.is_writable("/tmp/a/b"));
        assert!(!p.is_writable("/tmpfoo"));
        assert!(!p.is_writable("/tmpfoo/a"));
        assert!(!p.is_writable("/tm"));
        assert!(!p.is_writable("/"));
        assert!(!p.is_writable("/var/tmp"));

        let mut q = p.clone();
        q.writable[0].path = "/var/tmp/".into();
        assert!(q.is_writable("/var/tmp"));
        assert!(q.is_writable("/var/tmp/x"));
        assert!(!q.is_writable("/var/tmpx"));

        q.writable[0].path = "/".into();
        assert!(q.is_writable("/anything/at/all"));
    }

    #[test]
    fn a_malformed_file_names_file_line_and_column() {
        let text = MINIMAL.replace("shm: true", "shm: [true");
        let path = temp_file("malformed", &text);
        let path = path.to_str().unwrap();
        let err = format!("{:#}", load(path).unwrap_err());
        assert!(!err.contains('\n'), "{err}");
        let rest = err.strip_prefix(&format!("{path}:")).expect(&err);
        let (line, rest) = rest.split_once(':').unwrap();
        let (col, rest) = rest.split_once(':').unwrap();
        assert!(line.parse::<usize>().unwrap() >= 8, "{err}");
        col.parse::<usize>().unwrap();
        assert!(rest.starts_with(' '), "{err}");
        assert!(err.ends_with(SEE_VALID), "{err}");
    }

    #[test]
    fn a_wrong_type_names_its_location() {
        let text = MINIMAL.replace("shm: true", "shm: sometimes");
        let err = parse("profiles/bad.yaml", &text).unwrap_err().to_string();
        assert!(err.starts_with("profiles/bad.yaml:8:"), "{err}");
        assert!(err.contains("shm"), "{err}");
        assert!(!err.contains(" at line "), "{err}");
    }

    #[test]
    fn an_unknown_field_is_rejected_with_its_location() {
        // Line 14, under tmpfs: a Docker-style option that the schema does not have.
        let text = MINIMAL.replace("  note: n\nemit", "  note: n\n  uid: 1000\nemit");
        let path = temp_file("unknown-field", &text);
        let path = path.to_str().unwrap();
        let err = format!("{:#}", load(path).unwrap_err());
        assert!(err.starts_with(&format!("{path}:14:3: ")), "{err}");
        assert!(err.contains("unknown field `uid`"), "{err}");
        assert!(err.ends_with(SEE_VALID), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let err = load("fargate").unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown profile \"fargate\"; known profiles: docker, ecs-ec2, ecs-fargate, \
             kubernetes, lambda, podman; or give a path to a YAML file"
        );
    }

    #[test]
    fn an_unreadable_file_is_named() {
        let err = load("no/such/profile.yaml").unwrap_err().to_string();
        assert!(
            err.starts_with("cannot read profile file no/such/profile.yaml: "),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
        let err = load("missing.yml").unwrap_err().to_string();
        assert!(err.contains("missing.yml"), "{err}");
    }

    #[test]
    fn a_file_loads_by_path() {
        let path = temp_file("custom", MINIMAL);
        let p = load(path.to_str().unwrap()).unwrap();
        assert_eq!(p.name, "minimal");
        assert_eq!(p.fallback, None);
        assert_eq!(p.tmpfs.max_size_mib, None);
    }

    #[test]
    fn validation_names_the_file_and_the_field() {
        let text = MINIMAL.replace("name: minimal", "name: ''");
        let err = parse("my.yaml", &text).unwrap_err().to_string();
        assert!(err.starts_with("my.yaml: name is empty"), "{err}");

        let text = MINIMAL.replace("path: /tmp", "path: tmp");
        let err = parse("my.yaml", &text).unwrap_err().to_string();
        assert!(
            err.starts_with("my.yaml: writable[0].path \"tmp\" is not absolute"),
            "{err}"
        );

        let text = MINIMAL.replace("path: /tmp", "path: /var/../tmp");
        let err = parse("my.yaml", &text).unwrap_err().to_string();
        assert!(err.starts_with("my.yaml: writable[0].path"), "{err}");

        let text = MINIMAL.replace("  available: true", "  available: true\n  max_size_mib: 0");
        let err = parse("my.yaml", &text).unwrap_err().to_string();
        assert!(err.starts_with("my.yaml: tmpfs.max_size_mib is 0"), "{err}");

        let text = MINIMAL.replace(
            "  available: true",
            "  available: true\n  max_size_mib: 512",
        );
        assert_eq!(
            parse("my.yaml", &text).unwrap().tmpfs.max_size_mib,
            Some(512)
        );
    }

    #[test]
    fn show_round_trips() {
        for p in builtin() {
            let shown = render_show(&p);
            assert_eq!(parse("shown", &shown).unwrap(), p, "{}", p.name);
        }
    }

    #[test]
    fn list_has_every_profile_and_marks_the_default() {
        let list = render_list();
        let lines: Vec<&str> = list.lines().collect();
        assert_eq!(lines.len(), 1 + BUILTIN.len());
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(header, ["NAME", "TMPFS", "TITLE"]);
        assert!(lines[1].starts_with("ecs-fargate (default)  yes"), "{list}");
        let lambda = lines.iter().find(|l| l.starts_with("lambda ")).unwrap();
        assert!(lambda.contains(" no "), "{list}");
        assert_eq!(lines.iter().filter(|l| l.contains("(default)")).count(), 1);
    }
}

/// Where an init container that copies the image's files into a new volume mounts it.
pub const SEED_AT: &str = "/seed";

/// Who the init container that fills a volume runs as, which decides how it may copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copier {
    /// Root, into a volume that is root's (an ECS task volume): `cp -a` of the directory gives
    /// the volume the owner and mode the image's directory has, and its files theirs.
    Root,
    /// The app's user, into a volume it may write but does not own (a Kubernetes emptyDir or
    /// claim, made writable by fsGroup): each entry is copied on its own, since `cp -a` of the
    /// directory would fail setting the volume's own times and mode.
    User,
}

/// The init container's command: copy the image's `path` into [`SEED_AT`], every time for
/// [`Seed::Fresh`], only while the volume is empty for [`Seed::Once`] (which takes `sh`). The
/// proof runs exactly this, so a fix is proven as it will run.
pub fn seed_command(path: &str, seed: Seed, copier: Copier) -> Vec<String> {
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
            let quote =
                |w: &String| shlex::try_quote(w).map_or_else(|_| w.clone(), |q| q.into_owned());
            let words: Vec<String> = copy.iter().map(quote).collect();
            let script = format!("[ -n \"$(ls -A {SEED_AT})\" ] || {}", words.join(" "));
            vec!["sh".into(), "-c".into(), script]
        }
        _ => copy,
    }
}
