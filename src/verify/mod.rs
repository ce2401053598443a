//! Verify: rerun the image with a read-only root, the way the profile's platform runs it, with and
//! without the planned mounts; find the fewest mounts it needs, which writes are fatal and which
//! the app tolerates, and time the runtime gates.

mod logscan;
mod minimize;
mod run;

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{bail, Result};
use tokio::sync::Semaphore;

use crate::engine::{ContainerSpec, Engine, RunId};
use crate::model::{
    is_within, tmpfs_parts, Mount, MountKind, Report, Verdict, Verification, VerifyRun, Write,
};
use crate::profile::{self, Profile};
use crate::trace::{RunOptions, Subject};
use minimize::{Oracle, Outcomes, Subset};
use run::{Mounts, WritableStop};

/// Writable paths a profile lists that Docker gives every container anyway.
const DOCKER_OWN: &[&str] = &["/dev", "/dev/shm"];

/// The platform as the proof emulates it on Docker: a read-only root, the paths the platform
/// keeps writable, no /dev/shm where it has none, its handling of image VOLUMEs, and the mounts
/// the deployment declares.
struct Platform {
    spec: ContainerSpec,
    /// Mounts every run has.
    fixed: Mounts,
    image_volumes: Vec<String>,
    image_volumes_writable: bool,
}

impl Platform {
    fn new(subject: &Subject, opts: &RunOptions, profile: &Profile, declared: &[String]) -> Self {
        let mut spec = subject.spec(opts);
        spec.readonly_rootfs = true;
        if !profile.shm {
            spec.ipc_mode = Some("none".to_string());
        }
        let mut fixed = Mounts::default();
        for mount in declared {
            let (path, options) = tmpfs_parts(mount);
            fixed.tmpfs.push((path.to_string(), options.to_string()));
        }
        for writable in &profile.writable {
            let path = writable.path.trim_end_matches('/');
            let declared = fixed.tmpfs.iter().any(|(p, _)| same_path(p, path));
            if !DOCKER_OWN.contains(&path) && !declared {
                // podman's --read-only-tmpfs set and Lambda's /tmp: open to every user. podman
                // copies the image's files into its set (tmpcopyup); Docker can neither do that
                // nor copy into a tmpfs-backed volume, so these start empty here.
                fixed
                    .tmpfs
                    .push((path.to_string(), "mode=1777".to_string()));
            }
        }
        Platform {
            spec,
            fixed,
            image_volumes: subject.image.volumes.clone(),
            image_volumes_writable: profile.image_volumes_writable,
        }
    }

    /// The same container with a writable root, none of the platform, and the image's VOLUMEs
    /// writable: how the app does when nothing is read-only.
    fn control(&self) -> (ContainerSpec, Mounts) {
        let mut spec = self.spec.clone();
        spec.readonly_rootfs = false;
        spec.ipc_mode = None;
        let volumes = self
            .image_volumes
            .iter()
            .map(|v| (v.clone(), false))
            .collect();
        (
            spec,
            Mounts {
                tmpfs: vec![],
                volumes,
            },
        )
    }

    /// The mounts of a run with `extra` added. An image VOLUME gets a fresh volume of ours unless
    /// a mount takes its place.
    fn mounts(&self, extra: &Mounts) -> Mounts {
        let mut mounts = self.fixed.clone();
        mounts.tmpfs.extend(extra.tmpfs.iter().cloned());
        mounts.volumes.extend(extra.volumes.iter().cloned());
        for volume in &self.image_volumes {
            let taken = mounts.tmpfs.iter().any(|(p, _)| same_path(p, volume))
                || mounts.volumes.iter().any(|(p, _)| same_path(p, volume));
            if !taken {
                mounts
                    .volumes
                    .push((volume.clone(), !self.image_volumes_writable));
            }
        }
        mounts
    }
}

fn same_path(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Runs batches of read-only runs, `jobs` at a time, and keeps every run for the report.
struct Prover<'a> {
    engine: &'a Engine,
    run_id: &'a RunId,
    opts: &'a RunOptions,
    platform: Platform,
    jobs: usize,
    /// How the app stopped with a writable root: known once the trace has run, and only then
    /// are the runs' shutdowns judged.
    writable_stop: Option<WritableStop>,
    runs: Vec<VerifyRun>,
    started: Instant,
}

impl Prover<'_> {
    /// Runs each set of extra mounts and returns the index of each run in `self.runs`.
    async fn batch(&mut self, sets: &[Mounts]) -> Result<Vec<usize>> {
        let semaphore = Semaphore::new(self.jobs.max(1));
        let first = self.runs.len();
        let this = &*self;
        let runs = sets.iter().enumerate().map(|(i, extra)| {
            let mounts = this.platform.mounts(extra);
            let semaphore = &semaphore;
            async move {
                let _permit = semaphore.acquire().await?;
                let role = format!("verify{}", first + i + 1);
                let spec = this.platform.spec.clone();
                run::run(this.engine, this.run_id, &role, spec, &mounts, this.opts).await
            }
        });
        let runs = futures_util::future::try_join_all(runs).await?;
        self.runs.extend(runs);
        self.settle();
        Ok((first..self.runs.len()).collect())
    }

    fn settle(&mut self) {
        if let Some(writable) = self.writable_stop {
            for run in &mut self.runs {
                run::settle(run, self.opts, writable);
            }
        }
    }

    fn verification(
        self,
        passed: bool,
        minimal_mounts: Vec<Mount>,
        decisive: usize,
    ) -> Verification {
        let failure = (!passed)
            .then(|| self.runs[decisive].failure.clone())
            .flatten();
        Verification {
            passed,
            failure,
            minimal_mounts,
            gates: run::gates(
                &self.runs[decisive],
                self.opts,
                self.writable_stop.unwrap_or(WritableStop::CLEAN),
            ),
            run_count: self.runs.len() as u32,
            jobs: self.jobs as u32,
            wall_ms: self.started.elapsed().as_millis() as u64,
            runs: self.runs,
        }
    }
}

/// The search's view of the prover: a subset of the candidate mounts passes or fails.
struct Search<'p, 'a> {
    prover: &'p mut Prover<'a>,
    planned: &'p [Mount],
    candidates: Vec<Mounts>,
    /// Which run tested each subset.
    runs: BTreeMap<Subset, usize>,
}

impl Oracle for Search<'_, '_> {
    /// The planned mounts over the paths the read-only errors of `subset`'s run name.
    fn named(&self, subset: &[usize]) -> Subset {
        let Some(&index) = self.runs.get(subset) else {
            return vec![];
        };
        let run = &self.prover.runs[index];
        (0..self.planned.len())
            .filter(|&i| {
                run.erofs_lines
                    .iter()
                    .filter_map(|l| l.path.as_deref())
                    .any(|p| is_within(p, &self.planned[i].path))
            })
            .collect()
    }

    async fn test(&mut self, subsets: &[Subset]) -> Result<Vec<bool>> {
        let sets: Vec<Mounts> = subsets
            .iter()
            .map(|subset| {
                let mut set = Mounts::default();
                for &i in subset {
                    set.tmpfs.extend(self.candidates[i].tmpfs.iter().cloned());
                    set.volumes
                        .extend(self.candidates[i].volumes.iter().cloned());
                }
                set
            })
            .collect();
        let indices = self.prover.batch(&sets).await?;
        let mut passed = vec![];
        for (subset, index) in subsets.iter().zip(indices) {
            self.runs.insert(subset.clone(), index);
            passed.push(self.prover.runs[index].passed);
        }
        Ok(passed)
    }
}

/// A planned mount as the proof mounts it on Docker.
fn candidate(mount: &Mount, profile: &Profile) -> Mounts {
    match mount.kind {
        MountKind::Tmpfs => Mounts {
            tmpfs: vec![profile::docker_tmpfs(mount, profile.tmpfs.owner)],
            volumes: vec![],
        },
        MountKind::Volume => Mounts {
            tmpfs: vec![],
            volumes: vec![(mount.path.clone(), false)],
        },
    }
}

/// The proof, begun: the image run read-only with no mount, which needs no trace and so runs
/// alongside it.
pub struct Proof<'a> {
    prover: Prover<'a>,
}

/// Starts the proof: the platform for `subject`, and the image run read-only with no mount.
pub async fn begin<'a>(
    engine: &'a Engine,
    run_id: &'a RunId,
    subject: &Subject,
    opts: &'a RunOptions,
    profile: &Profile,
    declared: &[String],
    jobs: usize,
) -> Result<Proof<'a>> {
    let started = Instant::now();
    let mut prover = Prover {
        engine,
        run_id,
        opts,
        platform: Platform::new(subject, opts, profile, declared),
        jobs,
        writable_stop: None,
        runs: vec![],
        started,
    };
    prover.batch(&[Mounts::default()]).await?;
    Ok(Proof { prover })
}

impl Proof<'_> {
    /// Proves the report's plan: the run with no mount has gone alongside the trace; when it
    /// failed, [`minimize::search`] finds the fewest planned mounts that pass. Sets the verification, each failing write's `fatal`, and the verdict
    /// the runs support.
    pub async fn finish(mut self, report: &mut Report, profile: &Profile) -> Result<()> {
        if let Some(bad) = report.trace.probes.iter().find(|p| !p.ok) {
            bail!(
                "probe {} {} with a writable root: the app fails without any read-only \
                 restriction, so this is not a read-only problem; fix the app, --probe or \
                 --expect-status first (--no-verify still shows what it writes)",
                bad.target,
                bad.status
                    .map_or_else(|| "got no answer".to_string(), |s| format!("answered {s}")),
            );
        }
        if let Some(code) = report.trace.exited_before_stop {
            bail!(
                "the container exited with code {code} by itself during the trace, with a \
                 writable root, so this is not a read-only problem; fix the app or its \
                 configuration first (--no-verify still shows what it writes)"
            );
        }
        self.prover.writable_stop = Some(WritableStop {
            killed: report.trace.exit.signal == Some(9),
            code: report.trace.exit.code,
        });
        self.prover.settle();
        let mounts = &report.plan.mounts;
        let n = mounts.len();
        let everything: Subset = (0..n).collect();
        let mut seen = Outcomes::default();
        seen.0.insert(vec![], self.prover.runs[0].passed);
        let mut search = Search {
            prover: &mut self.prover,
            planned: mounts,
            candidates: mounts.iter().map(|m| candidate(m, profile)).collect(),
            runs: BTreeMap::from([(vec![], 0)]),
        };
        let minimal = if seen.get(&[]) == Some(true) {
            Some(vec![])
        } else if n == 0 {
            None
        } else {
            minimize::search(n, &mut search, &mut seen).await?
        };
        let runs = search.runs;
        let outcomes: Vec<(&Subset, &VerifyRun)> = runs
            .iter()
            .map(|(subset, &i)| (subset, &self.prover.runs[i]))
            .collect();
        decide(
            &mut report.trace.writes,
            mounts,
            &outcomes,
            minimal.as_ref(),
        );
        let decisive = match &minimal {
            // Every subset the search returns was run; the first run is the fallback.
            Some(subset) => runs.get(subset).copied().unwrap_or(0),
            None => runs.get(&everything).copied().unwrap_or(0),
        };
        report.plan.verdict = match &minimal {
            Some(subset) if subset.is_empty() => Verdict::Compatible,
            Some(_) => Verdict::NeedsMounts,
            None => Verdict::NeedsChanges,
        };
        let minimal_mounts = minimal
            .iter()
            .flatten()
            .map(|&i| mounts[i].clone())
            .collect();
        report.verification = Some(self.prover.verification(
            minimal.is_some(),
            minimal_mounts,
            decisive,
        ));
        Ok(())
    }
}

/// Marks each failing write fatal or tolerated from what the runs showed:
/// - tolerated when a run passed without a mount over it;
/// - fatal when a failed run without a mount over it logged a read-only error naming it, or a
///   directory above it (the app died creating the directory its files go in);
/// - fatal when it is the only undecided write under a mount of the minimal set (removing that
///   mount made the run fail, so something under it is needed).
///
/// Everything else stays undecided.
fn decide(
    writes: &mut [Write],
    mounts: &[Mount],
    outcomes: &[(&Subset, &VerifyRun)],
    minimal: Option<&Subset>,
) {
    let covered =
        |subset: &Subset, w: &Write| subset.iter().any(|&i| is_within(&w.path, &mounts[i].path));
    for w in writes.iter_mut().filter(|w| w.would_fail == Some(true)) {
        let tolerated = outcomes
            .iter()
            .any(|(subset, run)| run.passed && !covered(subset, w));
        let named = outcomes.iter().any(|(subset, run)| {
            !run.passed
                && !covered(subset, w)
                && run
                    .erofs_lines
                    .iter()
                    .filter_map(|l| l.path.as_deref())
                    .any(|p| is_within(&w.path, p) || is_within(p, &w.path))
        });
        w.fatal = if tolerated {
            Some(false)
        } else if named {
            Some(true)
        } else {
            None
        };
    }
    for &needed in minimal.into_iter().flatten() {
        let under =
            |w: &Write| w.would_fail == Some(true) && is_within(&w.path, &mounts[needed].path);
        if writes.iter().any(|w| under(w) && w.fatal == Some(true)) {
            continue;
        }
        let mut open = writes.iter_mut().filter(|w| under(w) && w.fatal.is_none());
        if let (Some(only), None) = (open.next(), open.next()) {
            only.fatal = Some(true);
        }
    }
}

/// Runs the image once read-only with the deployment's mounts (`--tmpfs PATH[:OPTIONS]`) on the
/// profile's platform. When that fails, a control run with a writable root tells a read-only
/// problem from an app that fails anyway, which is an error.
pub async fn check(
    engine: &Engine,
    run_id: &RunId,
    opts: &RunOptions,
    profile: &Profile,
    declared: &[String],
) -> Result<Verification> {
    let subject = Subject::resolve(engine, opts).await?;
    let mut proof = begin(engine, run_id, &subject, opts, profile, declared, 1).await?;
    let prover = &mut proof.prover;
    let first = &prover.runs[0];
    let stopped_clean =
        first.clean_exit != Some(false) && first.exit.as_ref().and_then(|e| e.code) == Some(0);
    let mut writable_stop = WritableStop::CLEAN;
    if first.failure.is_some() || !stopped_clean {
        let (control, volumes) = prover.platform.control();
        let mut writable = run::run(engine, run_id, "control", control, &volumes, opts).await?;
        writable_stop = WritableStop {
            killed: writable.clean_exit == Some(false),
            code: writable.exit.as_ref().and_then(|e| e.code),
        };
        // The control is judged against itself: only its startup, probes and logs count.
        run::settle(&mut writable, opts, writable_stop);
        if let Some(failure) = &writable.failure {
            bail!(
                "the app fails with a writable root too ({failure}), so this is not a read-only \
                 problem; fix the app or its configuration (--env, --cmd, --port, --probe) first"
            );
        }
        prover.runs.push(writable);
    }
    prover.writable_stop = Some(writable_stop);
    run::settle(&mut prover.runs[0], opts, writable_stop);
    let passed = prover.runs[0].passed;
    Ok(proof.prover.verification(passed, vec![], 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Change, ErofsLine, FileType, Phase};

    fn write(path: &str) -> Write {
        Write {
            path: path.into(),
            non_utf8: false,
            change: Change::Created,
            file_type: FileType::File,
            bytes: Some(1),
            mode: None,
            uid: None,
            gid: None,
            phase: Phase::Startup,
            probe: None,
            volume: false,
            would_fail: Some(true),
            fatal: None,
        }
    }

    fn mount(path: &str) -> Mount {
        Mount {
            path: path.into(),
            kind: MountKind::Tmpfs,
            size_mib: 16,
            options: vec![],
            owner: None,
            covers: vec![],
            exists_in_image: false,
            warnings: vec![],
        }
    }

    fn run(passed: bool, erofs: &[&str]) -> VerifyRun {
        VerifyRun {
            mounts: vec![],
            readonly: true,
            passed,
            startup_ms: None,
            probes: vec![],
            erofs_lines: erofs
                .iter()
                .map(|p| ErofsLine {
                    line: format!("cannot write {p}: Read-only file system"),
                    path: Some(p.to_string()),
                })
                .collect(),
            clean_exit: None,
            stop_ms: None,
            exit: None,
            failure: None,
        }
    }

    fn fatal(writes: &[Write]) -> Vec<Option<bool>> {
        writes.iter().map(|w| w.fatal).collect()
    }

    #[test]
    fn tolerated_where_a_run_passed_without_a_mount_fatal_where_a_log_names_it() {
        let mounts = [mount("/var/run/app"), mount("/app/cache"), mount("/tmp")];
        let mut writes = [
            write("/var/run/app/pid"),
            write("/app/cache/a"),
            write("/app/cache/b"),
            write("/tmp/x"),
        ];
        let (none, all, minimal) = (vec![], vec![0, 1, 2], vec![0, 1]);
        let (without_run, without_cache) = (vec![1], vec![0]);
        let runs = [
            run(false, &["/var/run/app/pid"]),
            run(true, &[]),
            run(true, &[]),
            run(false, &["/var/run/app/pid"]),
            run(false, &[]),
        ];
        let outcomes = [
            (&none, &runs[0]),
            (&all, &runs[1]),
            (&minimal, &runs[2]),
            (&without_run, &runs[3]),
            (&without_cache, &runs[4]),
        ];
        decide(&mut writes, &mounts, &outcomes, Some(&minimal));
        // /tmp was not needed; the log named the pid file; removing the cache mount failed, but
        // nothing says which of its two files mattered.
        assert_eq!(fatal(&writes), [Some(true), None, None, Some(false)]);
    }

    #[test]
    fn the_only_write_under_a_needed_mount_is_fatal_even_when_no_log_names_it() {
        let mounts = [mount("/data")];
        let mut writes = [write("/data/state"), write("/etc/motd")];
        writes[1].would_fail = Some(false);
        let (none, all) = (vec![], vec![0]);
        let runs = [run(false, &[]), run(true, &[])];
        let outcomes = [(&none, &runs[0]), (&all, &runs[1])];
        decide(&mut writes, &mounts, &outcomes, Some(&all));
        assert_eq!(fatal(&writes), [Some(true), None]);
    }

    #[test]
    fn nothing_is_decided_when_even_every_mount_fails_and_no_log_says_why() {
        let mounts = [mount("/data")];
        let mut writes = [write("/data/state")];
        let (none, all) = (vec![], vec![0]);
        let runs = [run(false, &[]), run(false, &[])];
        decide(
            &mut writes,
            &mounts,
            &[(&none, &runs[0]), (&all, &runs[1])],
            None,
        );
        assert_eq!(fatal(&writes), [None]);
    }
}
