//! Verify: rerun the image with a read-only root, the way the profile's platform runs it, with and
//! without the planned mounts; find the fewest mounts it needs, which writes are fatal and which
//! the app tolerates, and time the runtime gates.

mod logscan;
mod minimize;
mod run;

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use tokio::sync::Semaphore;

use crate::engine::{ContainerSpec, Engine, Flavor, RunId};
use crate::model::{
    is_within, resolve, CopyStep, HarmfulMount, Mount, MountKind, MountOwner, ProofGate, Report,
    RunMount, Seed, Symlink, TmpfsSpec, Verdict, Verification, VerifyRun, VolumeRoot, Write,
    WriteKind,
};
use crate::profile::{self, Copier, Profile, TmpfsOwner, VolumeStart};
use crate::progress::Progress;
use crate::trace::{RunOptions, Subject};
use minimize::{Oracle, Outcomes, Subset};
use run::WritableStop;

/// The tmpfs mounts podman gives every container run with --read-only (--read-only-tmpfs, which
/// its Docker-compatible API cannot turn off) that a read-only volume can stand over. Not /run:
/// podman must make /run/.containerenv there, and a container with a read-only /run does not
/// start, so /run stays writable in a proof on podman whatever the profile.
const PODMAN_READ_ONLY_TMPFS: &[&str] = &["/tmp", "/var/tmp"];

/// Writable paths a profile lists that Docker gives every container anyway.
const DOCKER_OWN: &[&str] = &["/dev", "/dev/shm"];

/// The platform as the proof emulates it on Docker: a read-only root, the paths the platform
/// keeps writable, no /dev/shm where it has none, its handling of image VOLUMEs, and the mounts
/// the deployment declares.
struct Platform {
    spec: ContainerSpec,
    /// Mounts every run has.
    fixed: Vec<RunMount>,
    image_volumes: Vec<String>,
    image_volumes_writable: bool,
    /// How the profile gives a mount its owner.
    owner: TmpfsOwner,
    /// How the engine running the proof gives a tmpfs its owner: `uid=`/`gid=` on Docker,
    /// podman's `U` (podman rejects the others).
    engine_owner: TmpfsOwner,
    volume_start: VolumeStart,
    /// Where podman's --read-only keeps a tmpfs that the profile's platform does not give: each
    /// run mounts a read-only volume of ours there (the image's files, unwritable, as under a
    /// read-only root) unless a mount of the run takes that path.
    shadowed: Vec<String>,
    /// Directories of release content that data must leave: every run has a fresh copy of the
    /// image's files there, standing in for the move, so that the rest of the fix is proven.
    stand_ins: Vec<String>,
}

impl Platform {
    fn new(
        subject: &Subject,
        opts: &RunOptions,
        profile: &Profile,
        declared: &[TmpfsSpec],
        flavor: Flavor,
    ) -> Self {
        let mut spec = subject.spec(opts);
        spec.readonly_rootfs = true;
        if !profile.shm {
            spec.ipc_mode = Some("none".to_string());
        }
        let mut fixed: Vec<RunMount> = declared.iter().cloned().map(RunMount::from).collect();
        for writable in &profile.writable {
            let path = writable.path.trim_end_matches('/');
            let declared = fixed.iter().any(|m| same_path(m.path(), path));
            // On podman itself, --read-only brings the podman profile's own set (owner, mode and
            // the image's files as podman makes them): it is not emulated there.
            let engine_own = flavor == Flavor::Podman && profile.name == "podman";
            if !DOCKER_OWN.contains(&path) && !declared && !engine_own {
                // podman's --read-only-tmpfs set and Lambda's /tmp: open to every user. podman
                // copies the image's files into its set (tmpcopyup); Docker can neither do that
                // nor copy into a tmpfs-backed volume, so these start empty here.
                fixed.push(TmpfsSpec::new(path, "mode=1777").into());
            }
        }
        // Podman's compatible API always gives a read-only container its --read-only-tmpfs set:
        // where the profile's platform keeps those paths read-only, so must the proof.
        let shadowed = match flavor {
            Flavor::Podman if profile.name != "podman" => PODMAN_READ_ONLY_TMPFS
                .iter()
                .filter(|p| !profile.is_writable(p))
                .filter(|p| !fixed.iter().any(|m| same_path(m.path(), p)))
                .map(|p| p.to_string())
                .collect(),
            _ => vec![],
        };
        Platform {
            spec,
            fixed,
            shadowed,
            image_volumes: subject.image.volumes.clone(),
            image_volumes_writable: profile.image_volumes_writable,
            owner: profile.tmpfs.owner,
            engine_owner: match flavor {
                Flavor::Docker => TmpfsOwner::Options,
                Flavor::Podman => TmpfsOwner::Chown,
            },
            volume_start: profile.volume_start,
            stand_ins: vec![],
        }
    }

    /// The same container with a writable root, none of the platform, and the image's VOLUMEs
    /// writable: how the app does when nothing is read-only.
    fn control(&self) -> (ContainerSpec, Vec<RunMount>) {
        let mut spec = self.spec.clone();
        spec.readonly_rootfs = false;
        spec.ipc_mode = None;
        let volumes = self
            .image_volumes
            .iter()
            .map(|v| RunMount::Volume {
                path: v.clone(),
                read_only: false,
                empty: false,
                owner: None,
            })
            .collect();
        (spec, volumes)
    }

    /// The mounts of a run with `extra` added. An image VOLUME gets a fresh volume of ours unless
    /// a mount takes its place.
    fn mounts(&self, extra: &[RunMount]) -> Vec<RunMount> {
        let mut mounts = self.fixed.clone();
        mounts.extend(extra.iter().cloned());
        for path in &self.shadowed {
            if !extra.iter().any(|m| same_path(m.path(), path)) {
                mounts.push(RunMount::Volume {
                    path: path.clone(),
                    read_only: true,
                    empty: false,
                    owner: None,
                });
            }
        }
        for volume in &self.image_volumes {
            if !mounts.iter().any(|m| same_path(m.path(), volume)) {
                mounts.push(RunMount::Volume {
                    path: volume.clone(),
                    read_only: !self.image_volumes_writable,
                    empty: false,
                    owner: None,
                });
            }
        }
        mounts
    }

    /// A planned mount as the proof mounts it on Docker: a tmpfs with the owner the plan gives
    /// it, a volume as the platform starts one at its path (Docker's named volumes copy the
    /// image's files and owner in; an ECS volume does so only at an image VOLUME).
    fn candidate(&self, mount: &Mount) -> RunMount {
        if mount.seed != Seed::Empty {
            return self.seeded(mount);
        }
        if mount.kind == MountKind::Tmpfs {
            let mut options = profile::mount_options(mount, self.owner, self.engine_owner);
            options.push(format!("size={}m", mount.size_mib));
            return TmpfsSpec::new(&mount.path, options.join(",")).into();
        }
        let image_volume = self.image_volumes.iter().any(|v| same_path(v, &mount.path));
        let empty = !self.volume_start.from_image(image_volume);
        // An ECS volume is root's; an emptyDir is world-writable, and fsGroup gives a claim to
        // the app's group.
        let owner = (empty && self.volume_start == VolumeStart::Empty)
            .then(|| mount.owner.unwrap_or(MountOwner { uid: 0, gid: 0 }));
        RunMount::Volume {
            path: mount.path.clone(),
            read_only: false,
            empty,
            owner,
        }
    }
}

impl Platform {
    /// A mount that starts with the image's files, as the platform's fix fills it: Docker and
    /// an ECS image VOLUME copy them in by themselves; elsewhere an init container of the image
    /// copies them into the volume the platform made: root-owned 0755 on ECS, where the copy
    /// runs as root to keep the files' owners; on Kubernetes an emptyDir (1777) or a claim
    /// (root's 0755), given to the app's group by fsGroup, where the copy runs as the app.
    fn seeded(&self, mount: &Mount) -> RunMount {
        let path = mount.path.clone();
        let image_volume = self.image_volumes.iter().any(|v| same_path(v, &mount.path));
        let (root, copy) = match self.volume_start {
            start if start.from_image(image_volume) => (None, None),
            VolumeStart::ImageVolume => {
                let command = profile::seed_command(&path, mount.starts_with(), Copier::Root);
                let user = Some("0".to_string());
                (None, Some(CopyStep { user, command }))
            }
            _ => {
                let group = mount.owner.map(|o| o.gid);
                let mode = match mount.starts_with() {
                    Seed::Fresh => 0o777,
                    _ if group.is_some() => 0o775,
                    _ => 0o755,
                };
                let setgid = if group.is_some() { 0o2000 } else { 0 };
                let root = VolumeRoot {
                    uid: 0,
                    gid: group.unwrap_or(0),
                    mode: mode | setgid,
                };
                let user = self.spec.user.clone();
                let command = profile::seed_command(&path, mount.starts_with(), Copier::User);
                (Some(root), Some(CopyStep { user, command }))
            }
        };
        RunMount::Seeded { path, root, copy }
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
    gate: ProofGate,
    /// How the app stopped with a writable root: known once the trace has run, and only then
    /// are the runs' shutdowns judged.
    writable_stop: Option<WritableStop>,
    /// How long the app took to get ready with a writable root, once the trace has run: a run
    /// that fails ends this much later (see [`crate::engine::outrun`]), not at the budget.
    yardstick: Option<Duration>,
    runs: Vec<VerifyRun>,
    started: Instant,
    progress: Progress,
}

impl Prover<'_> {
    /// Runs each set of extra mounts and returns the index of each run in `self.runs`. With
    /// `alarm`, a read-only error in a run's logs ends it early (see [`run::run`]).
    async fn batch(&mut self, sets: &[Vec<RunMount>], alarm: bool) -> Result<Vec<usize>> {
        let semaphore = Semaphore::new(self.jobs.max(1));
        let first = self.runs.len();
        let this = &*self;
        let runs = sets.iter().enumerate().map(|(i, extra)| {
            let mounts = this.platform.mounts(extra);
            let semaphore = &semaphore;
            async move {
                let _permit = semaphore.acquire().await?;
                let n = first + i + 1;
                let role = format!("verify{n}");
                let paths: Vec<&str> = extra.iter().map(RunMount::path).collect();
                let shown = match paths.join(" ") {
                    none if none.is_empty() => "no mount".to_string(),
                    some => some,
                };
                let step = this
                    .progress
                    .step(format!("proof run {n} of {}: {shown}", first + sets.len()));
                let spec = this.platform.spec.clone();
                // Without the alarm a run is judged functionally; `settle` then judges it by the
                // proof's gate, with all it showed.
                let gate = match alarm {
                    true => this.gate,
                    false => ProofGate::Functional,
                };
                let run = run::run(
                    this.engine,
                    this.run_id,
                    &role,
                    spec,
                    &mounts,
                    this.opts,
                    run::Judging {
                        gate,
                        yardstick: this.yardstick,
                    },
                )
                .await?;
                step.done(format!(
                    "proof run {n}: {shown}: {}",
                    run.failure.as_deref().unwrap_or("passed")
                ));
                Ok::<_, anyhow::Error>(run)
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
                run::settle(run, self.opts, writable, self.gate);
            }
        }
    }

    fn verification(self, found: Found, decisive: usize) -> Verification {
        let passed = found.minimal.is_some();
        let failure = (!passed)
            .then(|| self.runs[decisive].failure.clone())
            .flatten();
        Verification {
            passed,
            failure,
            gate: self.gate,
            minimal_mounts: found.minimal.unwrap_or_default(),
            functional_mounts: found.functional,
            harmful_mounts: found.harmful,
            gates: run::gates(
                &self.runs[decisive],
                self.opts,
                self.writable_stop.unwrap_or(WritableStop::CLEAN),
            ),
            run_count: self.runs.len() as u32,
            jobs: self.jobs as u32,
            wall_ms: self.started.elapsed().as_millis() as u64,
            stand_ins: self.platform.stand_ins,
            runs: self.runs,
        }
    }
}

/// What the search found, as mounts.
#[derive(Default)]
struct Found {
    minimal: Option<Vec<Mount>>,
    functional: Option<Vec<Mount>>,
    harmful: Vec<HarmfulMount>,
}

/// The search's view of the prover: a subset of the free candidate mounts passes or fails.
/// Every run also has the fixed mounts, the volumes that keep state.
struct Search<'p, 'a> {
    prover: &'p mut Prover<'a>,
    planned: &'p [Mount],
    /// Indices into `planned` of the mounts every run has.
    fixed: Vec<usize>,
    /// Indices into `planned` that subsets choose from.
    free: Vec<usize>,
    symlinks: &'p [Symlink],
    /// Every subset run, with its index in `prover.runs`, oldest first.
    tested: Vec<(Subset, usize)>,
    /// Whether a subset passes when it starts, answers and stops, read-only errors aside,
    /// rather than by the proof's gate.
    functional: bool,
}

impl Search<'_, '_> {
    fn run_of(&self, subset: &[usize]) -> Option<&VerifyRun> {
        let index = self.tested.iter().rev().find(|(s, _)| s == subset)?.1;
        Some(&self.prover.runs[index])
    }

    /// The free candidates over the paths the read-only errors of `run` name, through the
    /// image's links.
    fn named_by(&self, run: &VerifyRun) -> Subset {
        let paths: Vec<String> = run
            .erofs_lines
            .iter()
            .filter_map(|l| l.path.as_deref())
            .map(|p| resolve(self.symlinks, p))
            .collect();
        (0..self.free.len())
            .filter(|&i| {
                let mount = &self.planned[self.free[i]].path;
                paths.iter().any(|p| is_within(p, mount))
            })
            .collect()
    }

    fn outcome(&self, run: &VerifyRun) -> Option<bool> {
        match self.functional {
            true => run.functional,
            false => Some(run.passed),
        }
    }

    /// The planned indices a subset of the free ones runs with, fixed ones included.
    fn planned_of(&self, subset: &[usize]) -> Vec<usize> {
        let mut all: Vec<usize> = self.fixed.clone();
        all.extend(subset.iter().map(|&i| self.free[i]));
        all.sort_unstable();
        all
    }
}

impl Oracle for Search<'_, '_> {
    fn named(&self, subset: &[usize]) -> Subset {
        self.run_of(subset)
            .map_or_else(Vec::new, |run| self.named_by(run))
    }

    /// A candidate is needed when a failed run without it logged a read-only error under it.
    /// By the clean gate that error alone fails every run without it. Judged functionally, the
    /// run must have failed to start, answer or stop, and named no other candidate it lacked.
    fn known_fail(&self, subset: &[usize]) -> bool {
        self.tested.iter().any(|(tested, index)| {
            let run = &self.prover.runs[*index];
            if self.outcome(run) != Some(false) {
                return false;
            }
            let lacking: Subset = self
                .named_by(run)
                .into_iter()
                .filter(|i| !tested.contains(i))
                .collect();
            match (self.functional, lacking.as_slice()) {
                (false, lacking) => lacking.iter().any(|i| !subset.contains(i)),
                (true, [only]) => !subset.contains(only),
                (true, _) => false,
            }
        })
    }

    async fn test(&mut self, subsets: &[Subset]) -> Result<Vec<bool>> {
        let sets: Vec<Vec<RunMount>> = subsets
            .iter()
            .map(|subset| {
                self.planned_of(subset)
                    .into_iter()
                    .map(|i| self.prover.platform.candidate(&self.planned[i]))
                    .collect()
            })
            .collect();
        let indices = self.prover.batch(&sets, !self.functional).await?;
        let mut passed = vec![];
        for (subset, index) in subsets.iter().zip(indices) {
            self.tested.push((subset.clone(), index));
            passed.push(self.outcome(&self.prover.runs[index]) == Some(true));
        }
        Ok(passed)
    }
}

/// The proof, begun: the image run read-only with no mount, which needs no trace and so runs
/// alongside it.
pub struct Proof<'a> {
    prover: Prover<'a>,
}

/// Starts the proof: the platform for `subject`, and the image run read-only with no mount.
#[allow(clippy::too_many_arguments)]
pub async fn begin<'a>(
    engine: &'a Engine,
    run_id: &'a RunId,
    subject: &Subject,
    opts: &'a RunOptions,
    profile: &Profile,
    declared: &[TmpfsSpec],
    jobs: usize,
    gate: ProofGate,
    progress: &Progress,
) -> Result<Proof<'a>> {
    let started = Instant::now();
    let mut prover = Prover {
        engine,
        run_id,
        opts,
        platform: Platform::new(subject, opts, profile, declared, engine.flavor()),
        jobs,
        gate,
        writable_stop: None,
        yardstick: None,
        runs: vec![],
        started,
        progress: progress.clone(),
    };
    prover.batch(&[vec![]], gate == ProofGate::Clean).await?;
    Ok(Proof { prover })
}

impl Proof<'_> {
    /// Proves the report's plan: the run with no mount has gone alongside the trace; when it
    /// failed, `minimize::search` finds the fewest planned mounts that pass, with the volumes
    /// that keep state in every run. Under the clean gate the fewest that merely work follow.
    /// Sets the verification, each failing write's `fatal`, and the verdict the runs support.
    pub async fn finish(mut self, report: &mut Report) -> Result<()> {
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
        self.prover.yardstick = Some(Duration::from_millis(report.trace.startup_ms));
        self.prover.settle();
        let symlinks = report.trace.symlinks.clone();
        let mut stand_ins: Vec<String> = report
            .plan
            .unfixable
            .iter()
            .filter_map(|u| u.moves_from.clone())
            .collect();
        stand_ins.sort();
        stand_ins.dedup();
        for path in &stand_ins {
            let copy = RunMount::Seeded {
                path: path.clone(),
                root: None,
                copy: None,
            };
            self.prover.platform.fixed.push(copy);
        }
        self.prover.platform.stand_ins = stand_ins;
        let mut searched = search_plan(&mut self.prover, &report.plan.mounts, &symlinks).await?;
        if searched.found.minimal.is_none() {
            // The runs showed no plain set works: the mounts that hide the image's files try
            // again starting with a copy of them.
            let start = self.prover.platform.volume_start;
            let seeded: Vec<Mount> = report
                .plan
                .mounts
                .iter()
                .map(|m| match m.hides_files {
                    true => crate::analyze::seeded(m, &report.trace.image_dirs, start),
                    false => m.clone(),
                })
                .collect();
            if seeded != report.plan.mounts {
                let mut again = search_plan(&mut self.prover, &seeded, &symlinks).await?;
                if again.found.minimal.is_some() {
                    let plain = std::mem::replace(&mut report.plan.mounts, seeded);
                    unseed(
                        &mut self.prover,
                        &mut report.plan.mounts,
                        &plain,
                        &mut again,
                    )
                    .await?;
                    searched = again;
                }
            }
        }
        let mounts = &report.plan.mounts;
        let outcomes: Vec<(Vec<usize>, &VerifyRun)> = searched
            .outcomes
            .iter()
            .map(|(planned, i)| (planned.clone(), &self.prover.runs[*i]))
            .collect();
        decide(
            &mut report.trace.writes,
            mounts,
            &symlinks,
            &outcomes,
            searched.minimal_planned.as_ref(),
        );
        drop(outcomes);
        let found = searched.found;
        report.plan.verdict = match &found.minimal {
            // Data still has to move out of the release, whatever the runs with it moved show.
            _ if !self.prover.platform.stand_ins.is_empty() => Verdict::NeedsChanges,
            Some(m) if m.is_empty() => Verdict::Compatible,
            Some(_) => Verdict::NeedsMounts,
            None => Verdict::NeedsChanges,
        };
        if let Some(minimal) = &found.minimal {
            // What a proven mount covers is fixed, whatever the static rules said of it.
            report
                .plan
                .unfixable
                .retain(|u| !minimal.iter().any(|m| is_within(&u.path, &m.path)));
        }
        let mut verification = self.prover.verification(found, searched.decisive);
        note_proven(&mut verification, &report.trace.symlinks);
        report.verification = Some(verification);
        Ok(())
    }
}

/// What one search over a plan's mounts found, with every run it made.
struct Searched {
    found: Found,
    /// Each run of the search: the planned mounts it had (indices) and its index in the runs.
    outcomes: Vec<(Vec<usize>, usize)>,
    /// The run the verdict rests on: the minimal set's, else the one with every mount.
    decisive: usize,
    minimal_planned: Option<Vec<usize>>,
}

/// Searches `mounts` for the fewest with which the app passes: the volumes that keep state are
/// in every run, the run with no mount at all is the prover's first. Under the clean gate the
/// fewest that merely work follow.
async fn search_plan(
    prover: &mut Prover<'_>,
    mounts: &[Mount],
    symlinks: &[Symlink],
) -> Result<Searched> {
    let (fixed, free): (Vec<usize>, Vec<usize>) = (0..mounts.len()).partition(|&i| mounts[i].state);
    let n = free.len();
    let gate = prover.gate;
    let mut search = Search {
        prover,
        planned: mounts,
        fixed,
        free,
        symlinks,
        tested: vec![],
        functional: gate == ProofGate::Functional,
    };
    let mut seen = Outcomes::default();
    if search.fixed.is_empty() && search.prover.platform.stand_ins.is_empty() {
        // The run with no mount is the empty subset.
        search.tested.push((vec![], 0));
        let outcome = search.outcome(&search.prover.runs[0]) == Some(true);
        seen.0.insert(vec![], outcome);
    } else {
        seen.test(&mut search, &[vec![]]).await?;
    }
    let minimal = if seen.get(&[]) == Some(true) {
        Some(vec![])
    } else if n == 0 {
        None
    } else {
        minimize::search(n, &mut search, &mut seen).await?
    };
    let functional = match (&minimal, gate) {
        (Some(clean), ProofGate::Clean) if !clean.is_empty() => {
            Some(functional_subset(&mut search, clean).await?)
        }
        _ => None,
    };
    let as_mounts = |subset: &Subset| -> Vec<Mount> {
        search
            .planned_of(subset)
            .iter()
            .map(|&i| mounts[i].clone())
            .collect()
    };
    let found = Found {
        minimal: minimal.as_ref().map(as_mounts),
        functional: functional
            .as_ref()
            .filter(|f| Some(*f) != minimal.as_ref())
            .map(as_mounts),
        harmful: harmful(&search),
    };
    let mut outcomes: Vec<(Vec<usize>, usize)> = search
        .tested
        .iter()
        .map(|(subset, i)| (search.planned_of(subset), *i))
        .collect();
    if !search.fixed.is_empty() || !search.prover.platform.stand_ins.is_empty() {
        // The run with no mount at all is no subset of the search, but it saw what it saw.
        outcomes.push((vec![], 0));
    }
    let decisive = match &minimal {
        Some(subset) => search.run_of(subset),
        None => search.run_of(&(0..n).collect::<Subset>()),
    }
    .and_then(|run| search.prover.runs.iter().position(|r| std::ptr::eq(r, run)))
    .unwrap_or(0);
    let minimal_planned = minimal.as_ref().map(|m| search.planned_of(m));
    Ok(Searched {
        found,
        outcomes,
        decisive,
        minimal_planned,
    })
}

/// Seeding every mount that hides files may seed some the app does without: of the minimal set,
/// each seeded mount is tried plain again, the others kept, and those that pass plain lose
/// their seed when the set still passes with all of them plain. A copy step is work a platform
/// does at every start, and a seeded claim is one more thing to keep.
async fn unseed(
    prover: &mut Prover<'_>,
    mounts: &mut [Mount],
    plain: &[Mount],
    searched: &mut Searched,
) -> Result<()> {
    let Some(minimal) = searched.minimal_planned.clone() else {
        return Ok(());
    };
    let seeded: Vec<usize> = minimal
        .iter()
        .copied()
        .filter(|&i| mounts[i] != plain[i])
        .collect();
    let set = |platform: &Platform, mounts: &[Mount], plain_at: &[usize]| -> Vec<RunMount> {
        let chosen = minimal.iter().map(|&i| match plain_at.contains(&i) {
            true => &plain[i],
            false => &mounts[i],
        });
        chosen.map(|m| platform.candidate(m)).collect()
    };
    let sets: Vec<Vec<RunMount>> = seeded
        .iter()
        .map(|&i| set(&prover.platform, mounts, &[i]))
        .collect();
    let alarm = prover.gate == ProofGate::Clean;
    let runs = prover.batch(&sets, alarm).await?;
    let mut passing: Vec<(usize, usize)> = seeded
        .iter()
        .zip(&runs)
        .filter(|(_, &run)| prover.runs[run].passed)
        .map(|(&i, &run)| (i, run))
        .collect();
    for &(_, run) in &passing {
        searched.outcomes.push((minimal.clone(), run));
    }
    if passing.len() > 1 {
        let all: Vec<usize> = passing.iter().map(|(i, _)| *i).collect();
        let both = set(&prover.platform, mounts, &all);
        let run = prover.batch(&[both], alarm).await?[0];
        if prover.runs[run].passed {
            passing = all.into_iter().map(|i| (i, run)).collect();
        } else {
            passing.truncate(1);
        }
    }
    if let Some(&(_, decisive)) = passing.last() {
        for &(i, _) in &passing {
            mounts[i] = plain[i].clone();
        }
        searched.decisive = decisive;
        searched.found.minimal = Some(minimal.iter().map(|&i| mounts[i].clone()).collect());
    }
    Ok(())
}

/// The fewest of the clean set's mounts with which the app starts, answers and stops, read-only
/// errors in its logs aside: runs that showed that already count, the rest run without the
/// alarm.
async fn functional_subset(search: &mut Search<'_, '_>, clean: &Subset) -> Result<Subset> {
    search.functional = true;
    let mut seen = Outcomes::default();
    for (subset, index) in &search.tested {
        if let Some(outcome) = search.prover.runs[*index].functional {
            seen.0.entry(subset.clone()).or_insert(outcome);
        }
    }
    seen.0.insert(clean.clone(), true);
    if seen.test(search, &[vec![]]).await?[0] {
        return Ok(vec![]);
    }
    minimize::ddmin(clean.clone(), search, &mut seen).await
}

/// Mounts whose addition to a passing set made it fail, each with that failure.
fn harmful(search: &Search) -> Vec<HarmfulMount> {
    let passes = |run: &VerifyRun| run.passed;
    let mut found: Vec<HarmfulMount> = vec![];
    for (with, i) in &search.tested {
        let run = &search.prover.runs[*i];
        if passes(run) {
            continue;
        }
        for &added in with {
            let without: Subset = with.iter().copied().filter(|&m| m != added).collect();
            let passed_without = search
                .tested
                .iter()
                .any(|(s, j)| *s == without && passes(&search.prover.runs[*j]));
            let path = &search.planned[search.free[added]].path;
            if passed_without && !found.iter().any(|h| &h.path == path) {
                found.push(HarmfulMount {
                    path: path.clone(),
                    failure: run.failure.clone().unwrap_or_default(),
                });
            }
        }
    }
    found
}

/// Turns each proven mount's proposals into facts: what it hides, the app did without; and
/// which path the app named where that went through a link.
fn note_proven(verification: &mut Verification, symlinks: &[Symlink]) {
    let named: Vec<&str> = verification
        .runs
        .iter()
        .flat_map(|r| &r.erofs_lines)
        .filter_map(|l| l.path.as_deref())
        .collect();
    for mount in &mut verification.minimal_mounts {
        if !mount.hides.is_empty() {
            mount.warnings.push(format!(
                "proven: the app started, answered and stopped without what it hides ({})",
                mount.hides.join(", ")
            ));
        }
        let mut aliases: Vec<&str> = named
            .iter()
            .copied()
            .filter(|p| {
                let real = resolve(symlinks, p);
                real != *p && is_within(&real, &mount.path)
            })
            .collect();
        aliases.sort_unstable();
        aliases.dedup();
        if !aliases.is_empty() {
            mount.warnings.push(format!(
                "the app names it through a link of the image: {} (mounted at the real path)",
                aliases.join(", ")
            ));
        }
    }
}

/// Marks each failing write fatal or tolerated from what the runs showed:
/// - tolerated when a run passed without a mount over it, unless it is state, which goes on a
///   volume in every run and every fix;
/// - fatal when a failed run without a mount over it logged a read-only error naming it (through
///   the image's links), or a directory above it (the app died creating the directory its files
///   go in);
/// - fatal when it is the only undecided write under a mount of the minimal set (removing that
///   mount made the run fail, so something under it is needed).
///
/// Everything else stays undecided. Subsets are indices into `mounts`.
fn decide(
    writes: &mut [Write],
    mounts: &[Mount],
    symlinks: &[Symlink],
    outcomes: &[(Vec<usize>, &VerifyRun)],
    minimal: Option<&Vec<usize>>,
) {
    let covered =
        |subset: &[usize], w: &Write| subset.iter().any(|&i| is_within(&w.path, &mounts[i].path));
    for w in writes.iter_mut().filter(|w| w.would_fail == Some(true)) {
        // An app that loses its state may well pass: that proves nothing about state.
        let tolerated = w.kind != Some(WriteKind::State)
            && outcomes
                .iter()
                .any(|(subset, run)| run.passed && !covered(subset, w));
        let named = outcomes.iter().any(|(subset, run)| {
            !run.passed
                && !covered(subset, w)
                && run
                    .erofs_lines
                    .iter()
                    .filter_map(|l| l.path.as_deref())
                    .map(|p| resolve(symlinks, p))
                    .any(|p| is_within(&w.path, &p) || is_within(&p, &w.path))
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
        if mounts[needed].state || writes.iter().any(|w| under(w) && w.fatal == Some(true)) {
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
    declared: &[TmpfsSpec],
    progress: &Progress,
) -> Result<Verification> {
    let subject = Subject::resolve(engine, opts, progress).await?;
    let opts = &subject.options(opts);
    let gate = ProofGate::Clean;
    let mut proof = begin(
        engine, run_id, &subject, opts, profile, declared, 1, gate, progress,
    )
    .await?;
    let prover = &mut proof.prover;
    let first = &prover.runs[0];
    let stopped_clean =
        first.clean_exit != Some(false) && first.exit.as_ref().and_then(|e| e.code) == Some(0);
    let mut writable_stop = WritableStop::CLEAN;
    if first.failure.is_some() || !stopped_clean {
        let (control, volumes) = prover.platform.control();
        let mut writable = run::run(
            engine,
            run_id,
            "control",
            control,
            &volumes,
            opts,
            run::Judging {
                gate: ProofGate::Functional,
                yardstick: None,
            },
        )
        .await?;
        writable_stop = WritableStop {
            killed: writable.clean_exit == Some(false),
            code: writable.exit.as_ref().and_then(|e| e.code),
        };
        // The control is judged against itself: only its startup, probes and logs count.
        run::settle(&mut writable, opts, writable_stop, gate);
        if let Some(failure) = &writable.failure {
            bail!(
                "the app fails with a writable root too ({failure}), so this is not a read-only \
                 problem; fix the app or its configuration (--env, --cmd, --port, --probe) first"
            );
        }
        prover.runs.push(writable);
    }
    prover.writable_stop = Some(writable_stop);
    run::settle(&mut prover.runs[0], opts, writable_stop, gate);
    let found = Found {
        minimal: prover.runs[0].passed.then(Vec::new),
        ..Found::default()
    };
    Ok(proof.prover.verification(found, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ErofsLine;

    use crate::model::testing::write;

    fn mount(path: &str) -> Mount {
        Mount {
            path: path.into(),
            kind: MountKind::Tmpfs,
            size_mib: 16,
            options: vec![],
            owner: None,
            covers: vec![],
            exists_in_image: false,
            hides: vec![],
            hides_files: false,
            state: false,
            seed: Default::default(),
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
            functional: Some(passed),
            cut_short: false,
            problem: None,
            hints: vec![],
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
            (none, &runs[0]),
            (all, &runs[1]),
            (minimal.clone(), &runs[2]),
            (without_run, &runs[3]),
            (without_cache, &runs[4]),
        ];
        decide(&mut writes, &mounts, &[], &outcomes, Some(&minimal));
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
        let outcomes = [(none, &runs[0]), (all.clone(), &runs[1])];
        decide(&mut writes, &mounts, &[], &outcomes, Some(&all));
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
            &[],
            &[(none, &runs[0]), (all, &runs[1])],
            None,
        );
        assert_eq!(fatal(&writes), [None]);
    }

    #[test]
    fn a_log_line_that_names_a_path_through_a_link_of_the_image_decides_its_real_write() {
        let links = [Symlink {
            path: "/var/run".into(),
            target: "/run".into(),
        }];
        let mounts = [mount("/run")];
        let mut writes = [write("/run/nginx.pid")];
        let (none, all) = (vec![], vec![0]);
        let runs = [run(false, &["/var/run/nginx.pid"]), run(true, &[])];
        let outcomes = [(none, &runs[0]), (all.clone(), &runs[1])];
        decide(&mut writes, &mounts, &links, &outcomes, Some(&all));
        assert_eq!(fatal(&writes), [Some(true)]);
        // The same line read without the link names a path the trace never saw.
        let mut unlinked = [write("/run/nginx.pid"), write("/run/other")];
        decide(&mut unlinked, &mounts, &[], &outcomes, Some(&all));
        assert_eq!(fatal(&unlinked), [None, None]);
    }

    #[test]
    fn state_is_never_tolerated_even_when_a_run_passed_without_it() {
        let mounts = [mount("/var/log/broker")];
        let mut store = write("/var/lib/broker/store.db");
        store.kind = Some(WriteKind::State);
        let mut writes = [store, write("/var/log/broker/broker.log")];
        // The broker's shutdown error went into its log on the tmpfs: the run passed.
        let (none, all) = (vec![], vec![0]);
        let runs = [run(false, &["/var/log/broker/broker.log"]), run(true, &[])];
        let outcomes = [(none, &runs[0]), (all.clone(), &runs[1])];
        decide(&mut writes, &mounts, &[], &outcomes, Some(&all));
        assert_eq!(fatal(&writes), [None, Some(true)]);
    }

    /// `verify`'s output for a passing and a failing proof, in every format it has.
    #[test]
    fn verify_output_golden() {
        use crate::model::Check;
        use crate::report::{render_check, testdata, VerifyFormat};
        for (name, (report, _)) in [
            ("passed", testdata::proven()),
            ("failed", testdata::unproven()),
        ] {
            let check = Check {
                image: report.trace.image.reference.clone(),
                profile: report.plan.profile.clone(),
                mounts: vec![TmpfsSpec::new("/var/run/app", "uid=1000,gid=1000,size=16m")],
                verification: report.verification.clone().expect("a proven report"),
            };
            for (format, ext) in [
                (VerifyFormat::Text, "text"),
                (VerifyFormat::Json, "json"),
                (VerifyFormat::Yaml, "yaml"),
                (VerifyFormat::Junit, "junit"),
                (VerifyFormat::Github, "github"),
            ] {
                let out = render_check(&check, format, false);
                match format {
                    VerifyFormat::Json => {
                        let back: Check = serde_json::from_str(&out).expect("JSON parses back");
                        assert_eq!(back, check);
                    }
                    VerifyFormat::Yaml => {
                        let back: Check = serde_yaml_ng::from_str(&out).expect("YAML parses back");
                        assert_eq!(back, check);
                    }
                    _ => {}
                }
                insta::assert_snapshot!(format!("verify_{name}_{ext}"), out);
            }
        }
    }
}
