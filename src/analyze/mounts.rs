//! Mount planning: the fewest mount points that make every failing write succeed, placed where
//! they hide none of the image's files, sized from what was written and owned by the app's user.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::names;
use crate::model::{
    ancestors, is_within, FileType, ImageDir, Mount, MountKind, MountOwner, RunInfo, Seed,
    Unfixable, Write, WriteKind,
};
use crate::profile::{self, Profile, TmpfsOwner, VolumeStart};

/// Every tmpfs gets at least this much: apps write more on a busy day than in a trace.
const FLOOR_MIB: u64 = 16;
/// Observed bytes are doubled, then rounded up to a power of two.
const HEADROOM: u64 = 2;

pub struct Planner<'a> {
    pub dirs: HashMap<&'a str, &'a ImageDir>,
    pub profile: &'a Profile,
    /// The container's user.
    pub run: &'a RunInfo,
    /// The image's declared VOLUMEs.
    pub volumes: &'a [String],
    /// Files the image ships that the app modified: no mount may hide them.
    pub modified: HashSet<&'a str>,
}

impl Planner<'_> {
    pub fn plan(&self, failing: &[&Write]) -> (Vec<Mount>, Vec<Unfixable>) {
        let mut unfixable = vec![];
        let fallback_mounts = self.profile.fallback.as_ref().is_some_and(|f| f.mount);
        if !self.profile.tmpfs.available && !fallback_mounts {
            let writable: Vec<&str> = self
                .profile
                .writable
                .iter()
                .map(|w| w.path.as_str())
                .collect();
            for w in failing {
                unfixable.push(Unfixable {
                    path: w.path.clone(),
                    moves_from: None,
                    reason: format!(
                        "{} cannot add writable mounts; only {} is writable: make the app write there",
                        self.profile.title,
                        writable.join(", ")
                    ),
                });
            }
            return (vec![], unfixable);
        }
        let mut chosen: Vec<String> = vec![];
        for w in failing {
            match self.mount_point(w) {
                Ok(dir) => chosen.push(dir),
                Err(reason) => unfixable.push(Unfixable {
                    path: w.path.clone(),
                    moves_from: None,
                    reason,
                }),
            }
        }
        chosen.sort();
        chosen.dedup();
        let outermost: Vec<&String> = chosen
            .iter()
            .filter(|d| !chosen.iter().any(|o| o != *d && is_within(d, o)))
            .collect();
        let mut mounts: Vec<Mount> = outermost
            .into_iter()
            .map(|dir| {
                let covers: Vec<&Write> = failing
                    .iter()
                    .copied()
                    .filter(|w| is_within(&w.path, dir))
                    .collect();
                self.mount(dir, &covers)
            })
            .collect();
        // No run can show a release frozen on a volume: it breaks the next deploy, not this one.
        mounts.retain(|m| match self.release_under(m) {
            Some(release) => {
                unfixable.extend(self.kept_among_release(m, failing, release));
                false
            }
            None => true,
        });
        // Only a read-only run can show that the app does without the files such a mount
        // hides: until one has, what it covers has no fix.
        for m in mounts.iter().filter(|m| m.hides_files) {
            for path in &m.covers {
                unfixable.push(Unfixable {
                    path: path.clone(),
                    moves_from: None,
                    reason: format!(
                        "{path} is written inside {}, where a mount would hide the image's {}; \
                         only the read-only proof can show that the app does without them \
                         (run without --no-verify), else make the app write elsewhere",
                        m.path,
                        m.hides.join(", ")
                    ),
                });
            }
        }
        (mounts, unfixable)
    }

    /// Where a mount for `w` goes: a declared VOLUME's own path for a write inside it; else the
    /// highest directory above it that hides nothing of the image, so the fewest mounts cover
    /// the most writes; else the directory it is written in, as a proposal that hides the
    /// image's entries there (files the app modifies included) and that only a read-only run
    /// can accept.
    fn mount_point(&self, w: &Write) -> Result<String, String> {
        if let Some(volume) = self.volumes.iter().find(|v| is_within(&w.path, v)) {
            return Ok(volume.trim_end_matches('/').to_string());
        }
        // A directory named at random is made anew at every start: a mount goes above it.
        let chain: Vec<&str> = ancestors(&w.path, w.file_type == FileType::Dir)
            .into_iter()
            .filter(|d| !ancestors(d, true).iter().any(|a| names::pattern(a) != *a))
            .collect();
        let Some(deepest) = chain.first() else {
            return Err(format!(
                "{} is written directly in /, where no mount can go; move it into a directory of its own",
                w.path
            ));
        };
        let clean = |d: &str| {
            self.dirs.get(d).is_none_or(|i| i.hidden == 0) && self.modified_below(d).is_empty()
        };
        Ok(chain
            .iter()
            .take_while(|d| clean(d))
            .last()
            .unwrap_or(deepest)
            .to_string())
    }

    /// The release content a persistent volume `m` would keep from one deploy to the next, if
    /// any: the image's code, web content or configuration beside the app's data. A VOLUME the
    /// image declares is the image's own choice.
    fn release_under(&self, m: &Mount) -> Option<&ImageDir> {
        let declared = self
            .volumes
            .iter()
            .any(|v| v.trim_end_matches('/') == m.path);
        let dir = self.dirs.get(m.path.as_str())?;
        (m.state && !declared && dir.release > 0).then_some(*dir)
    }

    /// Why each write under `m`, a volume refused over release content, has no mount: the data
    /// must move out of the release, by the option that sets where the app keeps it.
    fn kept_among_release(
        &self,
        m: &Mount,
        failing: &[&Write],
        release: &ImageDir,
    ) -> Vec<Unfixable> {
        let under: Vec<&Write> = failing
            .iter()
            .copied()
            .filter(|w| is_within(&w.path, &m.path))
            .collect();
        let mut data: Vec<&str> = under
            .iter()
            .filter(|w| w.kind == Some(WriteKind::State))
            .map(|w| w.path.as_str())
            .collect();
        data.dedup();
        let files = format!(
            "{}{}",
            release.release_sample.join(", "),
            if release.release as usize > release.release_sample.len() {
                format!(
                    " and {} more",
                    release.release as usize - release.release_sample.len()
                )
            } else {
                String::new()
            }
        );
        under
            .iter()
            .map(|w| Unfixable {
                moves_from: Some(m.path.clone()),
                path: w.path.clone(),
                reason: format!(
                    "{} is data the app keeps in {}, among the image's release content ({files}): \
                     a volume there would keep this release's files over every later deploy, and \
                     a tmpfs loses the data; move {} out of the release (the env var or config \
                     option that sets its path, such as DATABASE_URL), into a directory of its \
                     own that a volume can hold",
                    w.path,
                    m.path,
                    some(&data),
                ),
            })
            .collect()
    }

    /// The image's files at or below `dir` that the app modified, in order: a mount at `dir`
    /// hides what the image ships in them.
    fn modified_below(&self, dir: &str) -> Vec<&str> {
        let mut files: Vec<&str> = self
            .modified
            .iter()
            .copied()
            .filter(|f| is_within(f, dir))
            .collect();
        files.sort_unstable();
        files
    }

    fn mount(&self, dir: &str, covers: &[&Write]) -> Mount {
        let mut bytes: BTreeMap<&str, u64> = BTreeMap::new();
        for w in covers {
            let b = bytes.entry(&w.path).or_default();
            *b = (*b).max(w.bytes.unwrap_or(0));
        }
        let total: u64 = bytes.values().sum();
        let mut size_mib = total
            .saturating_mul(HEADROOM)
            .div_ceil(1 << 20)
            .next_power_of_two()
            .max(FLOOR_MIB);
        let mut warnings = vec![];
        if let Some(max) = self.profile.tmpfs.max_size_mib.filter(|m| size_mib > *m) {
            warnings.push(format!(
                "{size_mib} MiB wanted, but {} allows {max} MiB",
                self.profile.title
            ));
            size_mib = max;
        }
        let executable = covers
            .iter()
            .any(|w| w.file_type == FileType::File && w.mode.is_some_and(|m| m & 0o111 != 0));
        let mut options = vec![
            if executable { "exec" } else { "noexec" }.to_string(),
            "nosuid".into(),
            "nodev".into(),
        ];
        let owner = match self.owner(covers) {
            Owner::Root => None,
            Owner::Ids(owner) => Some(owner),
            Owner::Unknown => {
                warnings.push(format!(
                    "the app runs as {:?}, whose numeric uid the trace could not see: make the \
                     mount writable for it",
                    self.run.user
                ));
                None
            }
        };
        let info = self.dirs.get(dir);
        let exists_in_image = info.is_some_and(|i| i.exists);
        let declared_volume = self.volumes.iter().any(|v| v.trim_end_matches('/') == dir);
        let state: Vec<&str> = covers
            .iter()
            .filter(|w| w.kind == Some(WriteKind::State))
            .map(|w| w.path.as_str())
            .collect();
        let kind = if !state.is_empty() || declared_volume {
            warnings.push(format!(
                "holds data meant to last ({}): a tmpfs, or a volume that goes with the \
                 container, loses it at every restart; keep {dir} on a persistent volume",
                if state.is_empty() {
                    format!("{dir} is a VOLUME of the image")
                } else {
                    some(&state)
                }
            ));
            MountKind::Volume
        } else if !self.profile.tmpfs.available {
            warnings.push(format!(
                "{} has no tmpfs: a disk-backed volume instead",
                self.profile.title
            ));
            MountKind::Volume
        } else {
            MountKind::Tmpfs
        };
        // A volume the platform fills with the image's files and owner at its path hides
        // nothing there.
        let seeded =
            kind == MountKind::Volume && self.profile.volume_start.from_image(declared_volume);
        // Docker does not carry an image directory's owner over to a tmpfs mounted on it:
        // without the platform's owner mechanism the app's own user could not write there.
        if let Some(o) = owner {
            options.extend(self.profile.tmpfs.owner.options(o));
            let volume_start = (kind == MountKind::Volume).then_some(self.profile.volume_start);
            if volume_start == Some(VolumeStart::ImageVolume) && !declared_volume {
                warnings.push(format!(
                    "on {} a volume here starts empty and root-owned 0755: {}",
                    self.profile.title,
                    profile::declare_volume(dir, Some(o))
                ));
            } else if volume_start == Some(VolumeStart::Image) && !exists_in_image {
                warnings.push(format!(
                    "a new volume belongs to root: create {dir} in the image owned by uid {} \
                     (RUN mkdir -p {dir} && chown {}:{} {dir}), so that the volume takes that owner",
                    o.uid, o.uid, o.gid
                ));
            } else if self.profile.tmpfs.owner == TmpfsOwner::None {
                warnings.push(format!(
                    "{} cannot set a mount's owner: make {dir} writable for uid {} another way",
                    self.profile.title, o.uid
                ));
            }
        }
        // What the image ships here that the mount would hide: the entries the app did not
        // create, the files it modified first, which it would find missing.
        let shows_image = declared_volume || seeded;
        let modified = match shows_image {
            true => vec![],
            false => self.modified_below(dir),
        };
        let hidden = info.filter(|i| i.hidden > 0 && !shows_image);
        let count = hidden.map_or(0, |i| i.hidden).max(modified.len() as u64);
        let mut hides: Vec<String> = modified.iter().map(|f| f.to_string()).collect();
        for entry in hidden.into_iter().flat_map(|i| &i.hidden_sample) {
            if !hides.contains(entry) {
                hides.push(entry.clone());
            }
        }
        hides.truncate(5);
        let hides_files = !modified.is_empty() || hidden.is_some_and(|i| i.hidden_files != Some(0));
        if count > 0 {
            warnings.push(format!(
                "replaces the image's directory {dir} and hides {} of it ({}{}){}: {}",
                plural(count, "entry", "entries"),
                hides.join(", "),
                if count as usize > hides.len() { ", …" } else { "" },
                match modified.len() {
                    0 => String::new(),
                    n => format!(
                        "; the app modifies {}, which it would find missing",
                        plural(n as u64, "of these files", "of these files")
                    ),
                },
                if hides_files {
                    "kept only if a read-only run shows the app does without them"
                } else {
                    "empty directories, kept only if a read-only run shows the app does without them"
                }
            ));
        } else if exists_in_image && !shows_image {
            warnings.push(format!(
                "replaces the image's directory {dir}, which holds nothing the app did not write"
            ));
        }
        Mount {
            path: dir.to_string(),
            kind,
            size_mib,
            options,
            owner,
            covers: bytes.keys().map(|p| p.to_string()).collect(),
            exists_in_image,
            hides,
            hides_files,
            state: kind == MountKind::Volume && (!state.is_empty() || declared_volume),
            seed: Seed::Empty,
            warnings,
        }
    }

    fn owner(&self, covers: &[&Write]) -> Owner {
        if self.run.runs_as_root() {
            return Owner::Root;
        }
        // The app's own files carry its uid and gid: the trace saw them.
        let seen = covers.iter().find_map(|w| Some((w.uid?, w.gid?)));
        let uid = self
            .run
            .user_name()
            .parse::<u32>()
            .ok()
            .or(seen.map(|s| s.0));
        let gid = self
            .run
            .group_name()
            .and_then(|g| g.parse().ok())
            .or(seen.map(|s| s.1))
            .or(uid);
        match (uid, gid) {
            (Some(uid), Some(gid)) => Owner::Ids(MountOwner { uid, gid }),
            _ => Owner::Unknown,
        }
    }
}

/// `m` as it must start once a read-only run showed the app needs what it hides: with a copy of
/// the image's files there, made afresh at every start for scratch space, once for data meant
/// to last. Where a platform makes a new volume's own directory itself (root's), the data moves
/// one level up when that level holds nothing else of the image, so that the copy makes the
/// data directory with the image's owner and mode, which servers such as PostgreSQL check.
pub fn seeded(m: &Mount, dirs: &[ImageDir], start: VolumeStart) -> Mount {
    let mut seeded = m.clone();
    seeded.hides = vec![];
    seeded.hides_files = false;
    // What it hid, and the image change that a copy step makes unneeded, no longer apply.
    seeded.warnings.retain(|w| {
        !w.starts_with("replaces the image's directory")
            && !w.contains("starts empty and root-owned")
    });
    if !m.state {
        seeded.seed = Seed::Fresh;
        seeded.warnings.push(format!(
            "starts with a copy of what the image ships at {}, made afresh at every start: a \
             read-only run showed the app needs it",
            m.path
        ));
        return seeded;
    }
    seeded.seed = Seed::Once;
    let info = |path: &str| dirs.iter().find(|d| d.path == path);
    let parent = m
        .path
        .rsplit_once('/')
        .map(|(p, _)| p)
        .filter(|p| !p.is_empty());
    let holds_only_this = |parent: &str| {
        let (Some(outer), Some(own)) = (info(parent), info(&m.path)) else {
            return false;
        };
        outer.hidden == own.hidden + 1
    };
    match parent {
        Some(parent) if start != VolumeStart::Image && holds_only_this(parent) => {
            seeded.path = parent.to_string();
            seeded.exists_in_image = true;
            seeded.warnings.push(format!(
                "at {parent}, which holds only {}: the platform makes a new volume's own \
                 directory, and the copy makes {} inside it with the image's owner and mode",
                m.path, m.path
            ));
        }
        _ => {}
    }
    seeded.warnings.push(format!(
        "a new volume starts with a copy of what the image ships at {}, made while it is empty; \
         then it keeps what the app writes",
        seeded.path
    ));
    seeded
}

enum Owner {
    Root,
    Ids(MountOwner),
    Unknown,
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Up to three paths, then how many more.
fn some(paths: &[&str]) -> String {
    let mut text = paths.iter().take(3).copied().collect::<Vec<_>>().join(", ");
    if paths.len() > 3 {
        text.push_str(&format!(" and {} more", paths.len() - 3));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &str, bytes: u64, uid: u32) -> Write {
        Write {
            bytes: Some(bytes),
            uid: Some(uid),
            gid: Some(uid),
            ..crate::model::testing::write(path)
        }
    }

    fn dir(path: &str, hidden: &[&str], uid: u32) -> ImageDir {
        ImageDir {
            path: path.into(),
            exists: true,
            hidden: hidden.len() as u64,
            hidden_sample: hidden.iter().map(|h| h.to_string()).collect(),
            // Test names with a dot are files, others directories.
            hidden_files: Some(hidden.iter().filter(|h| h.contains('.')).count() as u64),
            release: 0,
            release_sample: vec![],
            uid: Some(uid),
            gid: Some(uid),
        }
    }

    fn plan(writes: &[Write], dirs: &[ImageDir], user: &str) -> (Vec<Mount>, Vec<Unfixable>) {
        plan_for("docker", writes, dirs, user)
    }

    fn plan_for(
        profile: &str,
        writes: &[Write],
        dirs: &[ImageDir],
        user: &str,
    ) -> (Vec<Mount>, Vec<Unfixable>) {
        plan_with(profile, writes, dirs, user, &[], &[])
    }

    /// The plan on `profile` for an image with `dirs`, declared `volumes` and files the app
    /// `modified`, run as `user`.
    fn plan_with(
        profile: &str,
        writes: &[Write],
        dirs: &[ImageDir],
        user: &str,
        volumes: &[String],
        modified: &[&str],
    ) -> (Vec<Mount>, Vec<Unfixable>) {
        let profile = crate::profile::load(profile).unwrap();
        let run = RunInfo {
            user: user.into(),
            ..RunInfo::default()
        };
        let planner = Planner {
            dirs: dirs.iter().map(|d| (d.path.as_str(), d)).collect(),
            profile: &profile,
            run: &run,
            volumes,
            modified: modified.iter().copied().collect(),
        };
        planner.plan(&writes.iter().collect::<Vec<_>>())
    }

    #[test]
    fn mounts_go_as_high_as_hides_nothing_and_one_covers_many() {
        // /srv does not exist in the image; /var holds the image's /var/lib.
        let writes = [
            write("/srv/a/x", 10, 0),
            write("/srv/b/y", 10, 0),
            write("/var/run/app.pid", 5, 0),
        ];
        let dirs = [dir("/var", &["/var/lib"], 0), dir("/var/run", &[], 0)];
        let (mounts, unfixable) = plan(&writes, &dirs, "");
        assert!(unfixable.is_empty());
        let paths: Vec<&str> = mounts.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["/srv", "/var/run"]);
        assert_eq!(mounts[0].covers, ["/srv/a/x", "/srv/b/y"]);
        assert_eq!(
            mounts[0].options,
            ["noexec", "nosuid", "nodev"],
            "root needs no owner options"
        );
        assert_eq!(mounts[0].size_mib, 16);
        assert!(mounts[1].exists_in_image && !mounts[0].exists_in_image);
    }

    #[test]
    fn a_hidden_empty_directory_keeps_the_mount_below_it() {
        // Mounting /var would hide the image's empty /var/run, which the app expects to exist.
        let writes = [write("/var/cache/app/blob", 10, 0)];
        let dirs = [dir("/var", &["/var/run"], 0)];
        let (mounts, _) = plan(&writes, &dirs, "");
        assert_eq!(mounts[0].path, "/var/cache");
    }

    #[test]
    fn a_mount_that_would_hide_files_is_only_a_proposal_until_a_run_proves_it() {
        let writes = [write("/etc/app/state.conf", 10, 0)];
        let dirs = [
            dir("/etc", &["/etc/app", "/etc/app/base.conf"], 0),
            dir("/etc/app", &["/etc/app/base.conf"], 0),
        ];
        let (mounts, unfixable) = plan(&writes, &dirs, "");
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].path, "/etc/app");
        assert!(mounts[0].hides_files);
        assert_eq!(mounts[0].hides, ["/etc/app/base.conf"]);
        assert_eq!(unfixable.len(), 1);
        let reason = &unfixable[0].reason;
        assert!(
            reason.contains("/etc/app/base.conf") && reason.contains("only the read-only proof"),
            "{reason}"
        );
    }

    #[test]
    fn a_directory_of_empty_directories_is_a_mount_that_hides_no_file() {
        // Debian's /run holds /run/lock and /run/mount, empty: nginx's pid file goes there.
        let writes = [write("/run/nginx.pid", 4, 0)];
        let dirs = [dir("/run", &["/run/lock", "/run/mount"], 0)];
        let (mounts, unfixable) = plan(&writes, &dirs, "");
        assert!(unfixable.is_empty(), "{unfixable:?}");
        assert_eq!(mounts[0].path, "/run");
        assert!(!mounts[0].hides_files);
        assert_eq!(mounts[0].hides, ["/run/lock", "/run/mount"]);
        assert!(mounts[0].warnings[0].contains("empty directories"));
    }

    /// Debian's nginx ships its log files, empty: a mount over their directory hides them, and
    /// only a run shows that nginx makes them again.
    #[test]
    fn a_file_of_the_image_that_the_app_modifies_is_a_proposal_the_proof_decides() {
        let writes = [
            write("/var/log/nginx/access.log", 0, 0),
            write("/var/log/nginx/error.log", 90, 0),
        ];
        let dirs = [
            dir("/var/log/nginx", &[], 0),
            dir("/var/log", &["/var/log/apt"], 0),
        ];
        let modified = ["/var/log/nginx/access.log", "/var/log/nginx/error.log"];
        let (mounts, unfixable) = plan_with("docker", &writes, &dirs, "", &[], &modified);
        assert_eq!(mounts.len(), 1, "{mounts:?}");
        let m = &mounts[0];
        assert_eq!(
            (m.path.as_str(), m.kind),
            ("/var/log/nginx", MountKind::Tmpfs)
        );
        assert!(m.hides_files);
        assert_eq!(m.hides, modified);
        assert!(
            m.warnings[0].contains("the app modifies 2 of these files"),
            "{:?}",
            m.warnings
        );
        assert_eq!(unfixable.len(), 2);
        assert!(unfixable
            .iter()
            .all(|u| u.reason.contains("only the read-only proof")));
    }

    /// A persistent volume freezes what it starts with: release content beside the app's data
    /// gets none, on any platform, and the report names the data to move. The rest of the
    /// plan stands.
    #[test]
    fn no_volume_keeps_release_content_beside_the_data() {
        let mut db = write("/app/notes.db", 8192, 1000);
        db.kind = Some(WriteKind::State);
        let writes = [db, write("/tmp/upload", 10, 1000)];
        let mut app = dir("/app", &["/app/notes.py", "/app/static"], 1000);
        app.release = 1;
        app.release_sample = vec!["/app/notes.py".into()];
        for profile in ["docker", "ecs-fargate", "kubernetes", "podman"] {
            let (mounts, unfixable) = plan_for(profile, &writes, &[app.clone()], "1000");
            let paths: Vec<&str> = mounts.iter().map(|m| m.path.as_str()).collect();
            assert_eq!(paths, ["/tmp"], "{profile}");
            assert_eq!(unfixable.len(), 1, "{profile}: {unfixable:?}");
            let reason = &unfixable[0].reason;
            assert_eq!(unfixable[0].path, "/app/notes.db");
            assert!(
                reason.contains("/app/notes.py")
                    && reason.contains("move /app/notes.db out of the release")
                    && reason.contains("DATABASE_URL"),
                "{profile}: {reason}"
            );
        }
        // A database's own files are data, not release: its volume stays.
        let mut table = write("/var/lib/db/main/base/1/1259", 8192, 100);
        table.kind = Some(WriteKind::State);
        let data = dir(
            "/var/lib/db/main/base/1",
            &["/var/lib/db/main/base/1/2619"],
            100,
        );
        let (mounts, unfixable) = plan_for("docker", &[table], &[data], "100");
        assert_eq!(mounts.len(), 1);
        assert!(unfixable.is_empty(), "{unfixable:?}");
    }

    /// Where the platform fills a new volume with the image's files (Docker), a state volume
    /// hides nothing; where it starts empty and root-owned (ECS away from an image VOLUME), the
    /// plan says so and how to change the image.
    #[test]
    fn a_state_volume_is_planned_as_the_platform_starts_it() {
        let mut db = write("/var/lib/app/data.db", 10, 1000);
        db.kind = Some(WriteKind::State);
        let dirs = [dir("/var/lib/app", &["/var/lib/app/seed.db"], 1000)];
        let plan = |profile: &str| {
            let (mut mounts, unfixable) = plan_for(profile, &[db.clone()], &dirs, "1000:1000");
            (mounts.remove(0), unfixable.len())
        };
        let (docker, unfixable) = plan("docker");
        assert_eq!(
            (docker.kind, docker.hides_files),
            (MountKind::Volume, false)
        );
        assert!(docker.hides.is_empty() && unfixable == 0, "{docker:?}");
        // Until a run shows the app does without the image's seed.db, nothing covers data.db.
        let (ecs, unfixable) = plan("ecs-fargate");
        assert!(ecs.hides_files && unfixable == 1, "{ecs:?}");
        assert!(
            ecs.warnings
                .iter()
                .any(|w| w.contains("starts empty and root-owned 0755")
                    && w.contains("declare VOLUME /var/lib/app")),
            "{:?}",
            ecs.warnings
        );
    }

    /// A database that ships its data files in the image: one volume at its data directory,
    /// which on Docker starts with those files; where a volume starts empty, only a run can
    /// show whether the app makes its data anew, and the advice is never a path such as /tmp.
    #[test]
    fn data_the_image_ships_and_the_app_modifies_goes_on_one_volume_at_its_directory() {
        let mut control = write("/var/lib/db/main/global/pg_control", 10, 0);
        control.kind = Some(WriteKind::State);
        let mut opts = write("/var/lib/db/main/postmaster.opts", 10, 0);
        opts.kind = Some(WriteKind::State);
        let dirs = [dir(
            "/var/lib/db/main/global",
            &["/var/lib/db/main/global/pg_control"],
            0,
        )];
        let modified = ["/var/lib/db/main/global/pg_control"];
        let writes = [control, opts];
        let (mounts, unfixable) = plan_with("docker", &writes, &dirs, "", &[], &modified);
        assert_eq!(mounts.len(), 1, "{mounts:?}");
        assert_eq!(mounts[0].path, "/var/lib/db/main");
        assert_eq!((mounts[0].kind, mounts[0].state), (MountKind::Volume, true));
        assert!(mounts[0].hides.is_empty() && unfixable.is_empty());
        let (mounts, unfixable) = plan_with("ecs-fargate", &writes, &dirs, "", &[], &modified);
        assert_eq!(mounts[0].path, "/var/lib/db/main");
        assert_eq!(mounts[0].hides, modified);
        assert_eq!(unfixable.len(), 2);
        for u in &unfixable {
            assert!(
                u.reason.contains("only the read-only proof"),
                "{}",
                u.reason
            );
            assert!(!u.reason.contains("/tmp"), "{}", u.reason);
        }
    }

    #[test]
    fn a_write_inside_a_declared_volume_gets_a_volume_at_its_path_and_nothing_inside() {
        let mut commitlog = write("/var/lib/db/commitlog/seg-1", 10, 0);
        commitlog.volume = true;
        let mut data = write("/var/lib/db/data/t1/x", 10, 0);
        data.volume = true;
        let dirs = [
            dir("/var/lib/db/commitlog", &[], 0),
            dir("/var/lib/db/data", &[], 0),
        ];
        let volumes = ["/var/lib/db".to_string()];
        let writes = [commitlog, data];
        let (mounts, unfixable) = plan_with("ecs-fargate", &writes, &dirs, "", &volumes, &[]);
        assert!(unfixable.is_empty());
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].path, "/var/lib/db");
        assert_eq!((mounts[0].kind, mounts[0].state), (MountKind::Volume, true));
        assert!(mounts[0]
            .warnings
            .iter()
            .any(|w| w.contains("persistent volume")));
    }

    #[test]
    fn a_non_root_app_gets_owner_options_even_on_an_image_directory() {
        let writes = [write("/var/run/app.pid", 5, 1000)];
        let dirs = [dir("/var", &["/var/lib"], 0), dir("/var/run", &[], 1000)];
        let (mounts, _) = plan(&writes, &dirs, "1000");
        assert_eq!(
            mounts[0].options,
            ["noexec", "nosuid", "nodev", "uid=1000", "gid=1000"]
        );
        // A user given by name: the ids come from the files the app wrote.
        let (mounts, _) = plan(&writes, &dirs, "appuser");
        assert!(mounts[0].options.contains(&"uid=1000".to_string()));
    }

    #[test]
    fn each_platform_gives_the_mount_to_the_app_its_own_way() {
        let writes = [write("/var/run/app.pid", 5, 1000)];
        let dirs = [dir("/var/run", &[], 1000)];
        let owner = Some(MountOwner {
            uid: 1000,
            gid: 1000,
        });
        let options = |profile: &str| {
            let (mounts, _) = plan_for(profile, &writes, &dirs, "1000:1000");
            assert_eq!(mounts[0].owner, owner, "{profile}");
            mounts[0].options.clone()
        };
        assert_eq!(options("ecs-fargate")[3..], ["uid=1000", "gid=1000"]);
        // podman rejects uid=/gid= on a tmpfs; its U option chowns the mount.
        assert_eq!(options("podman")[3..], ["U"]);
        // emptyDir takes no options: the fix sets fsGroup from the owner.
        assert_eq!(options("kubernetes"), ["noexec", "nosuid", "nodev"]);
    }

    #[test]
    fn where_nothing_can_be_mounted_every_failing_write_is_unfixable() {
        let (mounts, unfixable) = plan_for("lambda", &[write("/var/run/app.pid", 5, 0)], &[], "");
        assert!(mounts.is_empty());
        assert!(
            unfixable[0].reason.contains("only /tmp is writable"),
            "{}",
            unfixable[0].reason
        );
    }

    #[test]
    fn sizes_follow_observed_bytes_and_state_gets_a_volume() {
        let mut db = write("/data/app.db", 30 << 20, 0);
        db.kind = Some(WriteKind::State);
        let writes = [db];
        let (mounts, _) = plan(&writes, &[], "");
        assert_eq!(mounts[0].size_mib, 64);
        assert_eq!(mounts[0].kind, MountKind::Volume);
        assert!(mounts[0]
            .warnings
            .iter()
            .any(|w| w.contains("persistent volume")));
        assert!(mounts[0].state);
    }

    /// A JVM's or a launcher's temp directory has a new name at every start: the mount goes
    /// where the next start will write too.
    #[test]
    fn no_mount_goes_at_or_below_a_directory_named_at_random() {
        let mut dir_write = write("/app/.venv/.tmpcXFCmN", 0, 0);
        dir_write.file_type = FileType::Dir;
        let writes = [
            dir_write,
            write(
                "/tmp/jetty-0_0_0_0-8080-app_war-_-any-8123412341234/webapp/x.jsp",
                10,
                0,
            ),
        ];
        let dirs = [
            dir("/app/.venv", &["/app/.venv/bin/python"], 0),
            dir("/tmp", &["/tmp/.X11-unix"], 0),
        ];
        let (mounts, _) = plan(&writes, &dirs, "");
        let paths: Vec<&str> = mounts.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["/app/.venv", "/tmp"]);
    }

    /// A run showed the app needs what a mount hides: it starts with a copy. Data moves one
    /// level up where the platform makes the volume's own directory and that level holds only
    /// the data directory.
    #[test]
    fn a_seeded_mount_starts_with_the_image_files_and_data_goes_where_the_copy_makes_its_directory()
    {
        let mut control = write("/var/lib/db/15/main/global/pg_control", 10, 100);
        control.kind = Some(WriteKind::State);
        let data = dir(
            "/var/lib/db/15/main",
            &["/var/lib/db/15/main/global/pg_control"],
            100,
        );
        let mut parent = dir("/var/lib/db/15", &["/var/lib/db/15/main"], 100);
        parent.hidden = data.hidden + 1;
        let dirs = [data, parent];
        let modified = ["/var/lib/db/15/main/global/pg_control"];
        let writes = [
            control,
            write("/var/lib/db/15/main/postmaster.pid", 10, 100),
        ];
        let (mounts, _) = plan_with("kubernetes", &writes, &dirs, "100", &[], &modified);
        let planned = &mounts[0];
        assert_eq!(planned.path, "/var/lib/db/15/main");
        assert!(planned.hides_files);
        let once = seeded(planned, &dirs, VolumeStart::Empty);
        assert_eq!(
            (once.path.as_str(), once.seed),
            ("/var/lib/db/15", Seed::Once)
        );
        assert!(once.hides.is_empty() && !once.hides_files);
        assert!(once.warnings.iter().all(|w| !w.starts_with("replaces")));
        // Where a new volume takes the image's files and owner, it stays where the data is.
        assert_eq!(
            seeded(planned, &dirs, VolumeStart::Image).path,
            planned.path
        );
        // Scratch space that hides what the app needs starts as a fresh copy.
        let conf = write("/etc/app/app.conf", 10, 0);
        let etc = [dir("/etc/app", &["/etc/app/app.conf"], 0)];
        let (mounts, _) = plan_with("docker", &[conf], &etc, "", &[], &["/etc/app/app.conf"]);
        let fresh = seeded(&mounts[0], &etc, VolumeStart::Image);
        assert_eq!((fresh.path.as_str(), fresh.seed), ("/etc/app", Seed::Fresh));
        assert!(fresh
            .warnings
            .iter()
            .any(|w| w.contains("made afresh at every start")));
    }

    #[test]
    fn a_write_directly_in_root_is_unfixable() {
        let (mounts, unfixable) = plan(&[write("/app.pid", 5, 0)], &[], "");
        assert!(mounts.is_empty());
        assert!(unfixable[0].reason.contains("directly in /"));
    }
}
