//! Plain data passed between pipeline stages. Everything here is serialisable so that each stage
//! can be run, tested and re-rendered on its own (`suggest --from trace.json`).

use serde::{Deserialize, Serialize};

/// Bumped only on incompatible changes; new fields are added without a bump. 2: a proof run's
/// `mounts` are objects (`{"type": "tmpfs", "path", "options"}`), not `PATH:OPTIONS` text; a
/// trace is as in 1.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Trace {
    pub schema_version: u32,
    pub image: ImageInfo,
    /// The configuration the image was traced with, after command-line overrides.
    pub run: RunInfo,
    pub tracing: Tracing,
    pub phases: Vec<PhaseTiming>,
    pub probes: Vec<ProbeResult>,
    pub writes: Vec<Write>,
    pub logs: Vec<LogLine>,
    pub startup_ms: u64,
    pub exit: ExitStatus,
    /// The exit code when the app ended by itself before it was stopped: a service that quits
    /// with a writable root fails for reasons of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exited_before_stop: Option<i64>,
    /// What the image holds at each directory above a write: where a mount can go without
    /// hiding the image's files.
    #[serde(default)]
    pub image_dirs: Vec<ImageDir>,
    /// The image's links to directories (`/var/run` → `/run`): log lines name the path the app
    /// used, the trace the real one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub symlinks: Vec<Symlink>,
}

/// A symbolic link in the image to a directory, with its target resolved (absolute, through
/// any chain of links).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Symlink {
    pub path: String,
    pub target: String,
}

/// `path` with every link in `links` along it followed, as the kernel would: the real path the
/// trace records for a path an app or a log line names.
pub fn resolve(links: &[Symlink], path: &str) -> String {
    let mut path = path.to_string();
    // A cycle of links would loop; the kernel gives up after 40 too.
    for _ in 0..40 {
        let Some(link) = links
            .iter()
            .filter(|l| is_within(&path, &l.path))
            .max_by_key(|l| l.path.len())
        else {
            break;
        };
        path = format!(
            "{}{}",
            link.target.trim_end_matches('/'),
            &path[link.path.len()..]
        );
    }
    path
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageDir {
    pub path: String,
    /// Whether the image has a directory here.
    pub exists: bool,
    /// Entries of the image below `path` that the app did not write itself: a mount at `path`
    /// would hide them. A lower bound when the directory is very large.
    pub hidden: u64,
    /// A few of them, for the report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden_sample: Vec<String>,
    /// How many of the hidden files are release content (see [`is_release_content`]): what a
    /// volume that keeps its files across deploys would freeze.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub release: u64,
    /// A few of them, for the report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub release_sample: Vec<String>,
    /// How many of the hidden entries are not directories: none means a mount here hides only
    /// empty directories. None where the trace could not tell (read as "some").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_files: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ImageInfo {
    pub reference: String,
    pub id: String,
    pub user: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub exposed_ports: Vec<String>,
    pub volumes: Vec<String>,
    pub workdir: String,
    /// Names only: values may hold secrets and reports get pasted into pull requests.
    pub env_names: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RunInfo {
    pub user: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub port: Option<u16>,
    pub env_names: Vec<String>,
    /// What was asked to tell that it is up, in words: the --probe flags, else the image's
    /// HEALTHCHECK, else an answer on its port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<String>,
    /// How the probes reached the app: a port published on this machine, or from inside the
    /// container's network when the engine is elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reached: Option<String>,
}

impl RunInfo {
    /// The user part of `user[:group]`, as `docker run --user` takes it.
    pub fn user_name(&self) -> &str {
        self.user.split(':').next().unwrap_or("")
    }

    /// The group part of `user:group`, if given.
    pub fn group_name(&self) -> Option<&str> {
        self.user.split_once(':').map(|(_, g)| g)
    }

    /// No user means the image's default, which is root.
    pub fn runs_as_root(&self) -> bool {
        matches!(self.user_name(), "" | "0" | "root")
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TracingMode {
    /// inotify on the container's overlay upper dir plus walks at phase boundaries.
    Overlay,
    /// The engine's changes API, at phase boundaries and polled in between.
    Api,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Tracing {
    pub mode: TracingMode,
    /// Why this mode: the flag that asked for it, or what made overlay mode impossible here
    /// (a remote engine, an upper dir this user cannot read). Empty in traces made before it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    pub blind_spots: Vec<String>,
}

/// How the blind spots of a restart begin: they concern what it kept, not the writes.
pub const RESTART_BLIND_SPOTS: [&str; 2] = ["what a restart keeps", "reads at a restart"];

impl Tracing {
    /// Whether no blind spot concerns the first run's writes.
    pub fn first_run_sees_all(&self) -> bool {
        (self.blind_spots.iter()).all(|s| RESTART_BLIND_SPOTS.iter().any(|r| s.starts_with(r)))
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Startup,
    Probe,
    /// The image's HEALTHCHECK, run inside the container as the platform runs it.
    Healthcheck,
    Idle,
    Shutdown,
    /// The same container started again after its shutdown, until it was ready and had answered
    /// its probes, then stopped: what a restart keeps of what the first run made. No write is
    /// attributed to it; it is timed, and each write says what it did (`Write::restart`).
    Restart,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Startup => "startup",
            Phase::Probe => "probe",
            Phase::Healthcheck => "healthcheck",
            Phase::Idle => "idle",
            Phase::Shutdown => "shutdown",
            Phase::Restart => "restart",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseTiming {
    pub name: Phase,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProbeResult {
    /// An HTTP path such as `/health`, or `tcp`.
    pub target: String,
    pub status: Option<u16>,
    pub latency_ms: u64,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How it was answered, when that is worth saying (a port that speaks no HTTP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Created,
    Modified,
    Deleted,
    /// Created and gone again before the run ended: invisible to the engine's diff, but it
    /// fails all the same under a read-only root.
    Transient,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Modified => "modified",
            Change::Deleted => "deleted",
            Change::Transient => "transient",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    File,
    Dir,
    Symlink,
    Other,
    Unknown,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Write {
    /// The path inside the container. Bytes that are not UTF-8 are written as `\xNN`.
    pub path: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub non_utf8: bool,
    pub change: Change,
    pub file_type: FileType,
    pub bytes: Option<u64>,
    /// Permission bits (`0o644`); written in octal in JSON and YAML (`"0644"`), as people read
    /// them.
    #[serde(default, with = "octal")]
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    pub volume: bool,
    /// Under the audited profile: whether this write fails with a read-only root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub would_fail: Option<bool>,
    /// For a write that would fail, what the read-only proof found: `true` when the app cannot
    /// run without it, `false` when it ran without it (tolerated), `null` where no run decided.
    #[serde(default)]
    pub fatal: Option<bool>,
    /// What the written file is for, as far as its path, phase and place tell: state is kept on
    /// a volume whatever the proof finds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<WriteKind>,
    /// What the second start of the same container did to the file the first run left: None
    /// where there was no restart, or the file did not outlive the first run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<Restart>,
}

/// What a restart (the same container stopped and started again) did to a file the first run
/// left behind: what tells data the app keeps across restarts from scratch it makes anew.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Restart {
    /// Left as the first run left it, and read again: the app reuses it.
    Reused,
    /// Left as the first run left it, with no read seen: the app found it there and did not
    /// make it again (or the tracer cannot see reads).
    Kept,
    /// Read, then written again: carried from one start to the next (a counter, a database).
    Updated,
    /// Written again without being read first: made anew at every start.
    Rewritten,
    /// Removed by the second run.
    Deleted,
}

impl Restart {
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::Reused => "reused",
            Restart::Kept => "kept",
            Restart::Updated => "updated",
            Restart::Rewritten => "rewritten",
            Restart::Deleted => "deleted",
        }
    }

    /// The second start found the file and went on with it, rather than making it anew.
    pub fn carried_over(self) -> bool {
        matches!(self, Restart::Reused | Restart::Kept | Restart::Updated)
    }
}

/// What a write is for: how a fix must treat it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum WriteKind {
    /// Data meant to outlive the container: a database, a broker's store, a TSDB, writes into a
    /// declared VOLUME, files saved at shutdown. Lost at every restart on a tmpfs.
    State,
    /// Rebuilt when missing (`__pycache__`, `~/.cache`).
    Cache,
    /// Scratch space (`/tmp`, files that live a moment).
    Temp,
    Log,
    /// Pid files, locks, sockets: meaningful only while the process runs.
    Runtime,
}

impl WriteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteKind::State => "state",
            WriteKind::Cache => "cache",
            WriteKind::Temp => "temp",
            WriteKind::Log => "log",
            WriteKind::Runtime => "runtime",
        }
    }
}

/// The judgement of a trace for one platform profile, and the fix.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    pub profile: String,
    pub verdict: Verdict,
    /// The fewest mounts that cover every failing write that a mount can fix.
    pub mounts: Vec<Mount>,
    /// Mounts the audited configuration already declares (`--tmpfs`); writes there are covered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declared_mounts: Vec<TmpfsSpec>,
    pub remedies: Vec<Remedy>,
    pub unfixable: Vec<Unfixable>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing would fail.
    Compatible,
    /// Every failing write can be given a mount.
    NeedsMounts,
    /// Something cannot be fixed by a mount: the image or its configuration must change.
    NeedsChanges,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Compatible => "compatible",
            Verdict::NeedsMounts => "needs-mounts",
            Verdict::NeedsChanges => "needs-changes",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// In-memory, emptied at every start.
    Tmpfs,
    /// Data that looks meant to last (a database, uploads): a volume, not memory.
    Volume,
}

impl MountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Tmpfs => "tmpfs",
            MountKind::Volume => "volume",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mount {
    pub path: String,
    pub kind: MountKind,
    pub size_mib: u64,
    /// tmpfs mount options exactly as `docker run --tmpfs PATH:` takes them (size aside), in the
    /// platform's own terms: `uid=`/`gid=` on Docker and ECS, `U` on podman, none on Kubernetes.
    pub options: Vec<String>,
    /// Who must be able to write there, when the app is not root: the platform's owner options
    /// above, or its own mechanism (Kubernetes fsGroup), make the mount theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<MountOwner>,
    /// The failing writes this mount makes succeed.
    pub covers: Vec<String>,
    /// Whether the image has a directory at `path` (so the mount replaces it).
    pub exists_in_image: bool,
    /// Entries of the image the mount hides (a sample): proposed only where the hidden entries
    /// are empty directories or no other mount covers the write, and kept only where a
    /// read-only run shows that the app does without them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hides: Vec<String>,
    /// What it hides is more than empty directories.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hides_files: bool,
    /// It holds data meant to last: a volume in every proof run and in every fix, never a
    /// tmpfs, and never left out for being "tolerated".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub state: bool,
    /// What it starts with: nothing, or the image's files at its path.
    #[serde(default, skip_serializing_if = "Seed::is_empty")]
    pub seed: Seed,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What a mount holds when the app starts. A mount over an image directory hides what the image
/// ships there unless it starts with a copy of it; only a read-only run shows whether the app
/// needs that copy.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Seed {
    /// Nothing of the image (a platform that copies the image's files in by itself aside).
    #[default]
    Empty,
    /// A copy of the image's files, made afresh at every start: scratch space that starts as
    /// the image has it (an emptyDir filled by an init container, an anonymous volume).
    Fresh,
    /// The image's files, copied in once when the volume is new, then what the app keeps there
    /// (a Docker named volume; a claim an init container fills only while it is empty).
    Once,
}

impl Seed {
    pub fn is_empty(&self) -> bool {
        *self == Seed::Empty
    }
}

impl Mount {
    /// What it starts with as its fix makes it: a tmpfs is new at every start, so one that
    /// starts with the image's files once starts with them every time.
    pub fn starts_with(&self) -> Seed {
        match (self.seed, self.kind) {
            (Seed::Once, MountKind::Tmpfs) => Seed::Fresh,
            (seed, _) => seed,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Whether a file the image ships is release content: code, web content, an archive to deploy,
/// an executable, or configuration that is not the app's own (root's). A new image brings new
/// release content; a volume that keeps its files across deploys would hide it. Data the app
/// keeps (a database's files, which its own user owns) is not.
pub fn is_release_content(path: &str, mode: Option<u32>, uid: Option<u32>) -> bool {
    const CODE: &[&str] = &[
        "py", "pyc", "pyo", "pyi", "js", "mjs", "cjs", "ts", "rb", "php", "pl", "pm", "java",
        "class", "jar", "war", "ear", "go", "so", "dll", "dylib", "wasm", "lua", "sh", "html",
        "htm", "css", "svg", "ico", "woff", "woff2", "tmpl", "erb", "j2", "twig",
    ];
    const CONFIG: &[&str] = &[
        "conf",
        "cfg",
        "ini",
        "yaml",
        "yml",
        "toml",
        "json",
        "xml",
        "properties",
        "env",
    ];
    const CODE_DIRS: &[&str] = &[
        "site-packages",
        "node_modules",
        ".venv",
        "vendor",
        "__pycache__",
    ];
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let is = |list: &[&str]| ext.as_deref().is_some_and(|e| list.contains(&e));
    let in_code_dir = path.split('/').any(|c| CODE_DIRS.contains(&c));
    let executable = mode.is_some_and(|m| m & 0o111 != 0);
    is(CODE) || in_code_dir || executable || (is(CONFIG) && uid == Some(0))
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct MountOwner {
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Remedy {
    pub id: String,
    pub title: String,
    pub fix: String,
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Unfixable {
    pub path: String,
    pub reason: String,
    /// The directory of release content that this data must leave: the proof stands a fresh
    /// copy of the image's files in there, as if it had, to prove the rest of the fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moves_from: Option<String>,
}

/// What an audit found beyond its baseline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BaselineDiff {
    /// The baseline report, as given.
    pub file: String,
    /// Findings that the baseline does not have.
    pub new: Vec<BaselineFinding>,
    /// Findings that the baseline has too.
    pub known: usize,
}

/// One finding of a report, as a baseline compares it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum BaselineFinding {
    /// The verdict, when it is worse than the baseline's.
    Verdict(Verdict),
    /// A mount the fix needs, by its path.
    Mount(String),
    /// Writes no mount fixes (and the app does not tolerate), by their directory.
    Unfixable(String),
    /// A runtime gate of the proof that is not met, by its name.
    Gate(String),
}

impl BaselineFinding {
    /// Whether this finding alone fails a gate that fails on needs-changes only.
    pub fn needs_changes(&self) -> bool {
        matches!(
            self,
            BaselineFinding::Verdict(Verdict::NeedsChanges) | BaselineFinding::Unfixable(_)
        )
    }
}

/// What `audit` reports: the trace, its judgement and the proof, as one JSON object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    #[serde(flatten)]
    pub trace: Trace,
    #[serde(flatten)]
    pub plan: Plan,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// What this report finds beyond the one given with `--baseline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineDiff>,
    /// Findings the config's `accept:` entries accept: they fail no gate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted: Vec<Accepted>,
}

/// A finding accepted by a config's `accept:` entry, with the entry's reason.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Accepted {
    pub finding: BaselineFinding,
    /// The entry's path glob.
    pub path: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl Report {
    /// The mounts a fix adds: the proven minimal set once the proof passed, else the full cover
    /// less the mounts that would hide the image's files, which only a passing proof can keep.
    pub fn fix_mounts(&self) -> Vec<&Mount> {
        match &self.verification {
            Some(v) if v.passed => v.minimal_mounts.iter().collect(),
            _ => self.plan.mounts.iter().filter(|m| !m.hides_files).collect(),
        }
    }
}

/// The read-only proof: the image rerun with a read-only root, with and without the planned
/// mounts, on the platform's terms.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verification {
    /// Whether the image runs read-only with `minimal_mounts` (and the declared mounts).
    pub passed: bool,
    /// Why not, from the run with the most mounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// What a run had to show to pass.
    #[serde(default)]
    pub gate: ProofGate,
    /// The fewest planned mounts it needs to pass the gate: empty when it runs with none.
    pub minimal_mounts: Vec<Mount>,
    /// Under the clean gate, the fewest it needs to start, answer and stop (read-only errors in
    /// the logs aside), when that is fewer than `minimal_mounts`: the others only keep the logs
    /// clean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functional_mounts: Option<Vec<Mount>>,
    /// Planned mounts whose presence made a passing set of mounts fail: left out of the fix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub harmful_mounts: Vec<HarmfulMount>,
    /// The runtime gates, timed on the run that decided the proof.
    pub gates: Gates,
    pub runs: Vec<VerifyRun>,
    pub run_count: u32,
    /// How many runs went at once.
    pub jobs: u32,
    /// From the start of the first run, which in an audit goes alongside the trace.
    pub wall_ms: u64,
    /// Directories where every run had a fresh copy of the image's files, standing in for data
    /// that must move out of them: the fix is proven for once it has moved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stand_ins: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Gates {
    pub startup: Gate,
    pub probes: Vec<Gate>,
    /// From SIGTERM to exit, against the stop timeout; not ok when it had to be killed. None when
    /// the app had already exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<Gate>,
}

/// A mount that breaks the app: a run passed without it and failed with it added.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HarmfulMount {
    pub path: String,
    /// The failure of the run it was added to.
    pub failure: String,
}

/// A measured time against its budget.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Gate {
    /// `startup`, or the probe's target (`/health`, `tcp`).
    pub name: String,
    /// None when it never finished.
    pub ms: Option<u64>,
    pub budget_ms: u64,
    pub ok: bool,
    /// Why it is not ok, or what excused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Several audits as one report: the containers of a deployment spec (`audit -f FILE`), or
/// reports merged (`merge`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MultiReport {
    pub schema_version: u32,
    /// What was audited: the spec file, or the reports merged.
    pub source: String,
    pub targets: Vec<TargetReport>,
}

/// One audit of several: a container of a spec, or a report merged.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TargetReport {
    /// As the spec names it (`Deployment/web/app` for Kubernetes), or the image audited.
    pub name: String,
    /// Where the spec defines it (`FILE:LINE`, or the path inside the file), or the report's file.
    pub defined_at: String,
    /// Its path inside the spec's document (`Resources.Task.Properties.ContainerDefinitions[0]`),
    /// where `--patch` writes its fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_path: Option<String>,
    /// What the reader of the report must know of how it ran: placeholder values, tmpfs memory
    /// against the container's limit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// How long its audit took, trace and proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    pub report: Report,
}

/// What `verify` reports: one configuration of an image, proven or not.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Check {
    pub image: String,
    pub profile: String,
    /// The mounts the deployment declares.
    pub mounts: Vec<TmpfsSpec>,
    pub verification: Verification,
}

/// One read-only run of the proof.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct VerifyRun {
    /// Every mount the run had.
    pub mounts: Vec<RunMount>,
    pub readonly: bool,
    pub passed: bool,
    /// Until the first probe answered as expected; None when it never did.
    pub startup_ms: Option<u64>,
    pub probes: Vec<ProbeResult>,
    pub erofs_lines: Vec<ErofsLine>,
    /// Whether the app exited by itself after SIGTERM, within the stop timeout (None: it had
    /// already exited, or never started).
    pub clean_exit: Option<bool>,
    /// From SIGTERM until it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_ms: Option<u64>,
    pub exit: Option<ExitStatus>,
    /// Why the run failed its gate, one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Whether it started, every probe answered and it stopped as it does with a writable root,
    /// read-only errors in its logs aside; None when a read-only error ended it before that
    /// could show.
    #[serde(default)]
    pub functional: Option<bool>,
    /// Ended early: under the clean gate a read-only error in the logs had already failed it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut_short: bool,
    /// What failed before the shutdown was judged; the run's own, not reported on its own.
    #[serde(skip)]
    pub problem: Option<String>,
    /// What the logs tell about a failure (the last lines, the ownership trap).
    #[serde(skip)]
    pub hints: Vec<String>,
}

crate::choice::choice_enum! {
    /// What a proof run must show to pass (`clean` is the seed spec's QG-2).
    #[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
    #[serde(rename_all = "lowercase")]
    pub enum ProofGate {
        #[default]
        Clean = "clean": "it starts, every probe answers, it stops as with a writable root, and no read-only error is logged",
        Functional = "functional": "it starts, every probe answers and it stops as with a writable root",
    }
}

/// A log line that reports a write refused by a read-only filesystem.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErofsLine {
    pub line: String,
    /// The path the line names, when it names one.
    pub path: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogLine {
    pub stream: String,
    pub line: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ExitStatus {
    pub code: Option<i64>,
    /// The signal that ended the container, read from the 128+N exit code convention.
    pub signal: Option<i32>,
}

impl ExitStatus {
    pub fn from_code(code: i64) -> Self {
        let signal = (129..=128 + 64)
            .contains(&code)
            .then(|| (code - 128) as i32);
        ExitStatus {
            code: Some(code),
            signal,
        }
    }
}

/// A tmpfs as `docker run --tmpfs PATH[:OPTIONS]` takes it: checked once where it enters (a flag,
/// a report read back), and written as the same text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TmpfsSpec {
    pub path: String,
    /// Comma-separated, as after `PATH:` (`size=16m,uid=1000`); empty for none.
    pub options: String,
}

impl TmpfsSpec {
    pub fn new(path: impl Into<String>, options: impl Into<String>) -> Self {
        TmpfsSpec {
            path: path.into(),
            options: options.into(),
        }
    }

    /// Whether `path` is on this mount.
    pub fn covers(&self, path: impl AsRef<[u8]>) -> bool {
        is_within(path, &self.path)
    }
}

impl std::fmt::Display for TmpfsSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.options.as_str() {
            "" => f.write_str(&self.path),
            options => write!(f, "{}:{options}", self.path),
        }
    }
}

impl std::str::FromStr for TmpfsSpec {
    type Err = String;

    /// Refuses what the engine would refuse, or take wrongly, with the fix.
    fn from_str(spec: &str) -> Result<Self, String> {
        let (path, options) = spec.split_once(':').unwrap_or((spec, ""));
        if !path.starts_with('/') {
            return Err(format!(
                "the mount point {path:?} is not an absolute path; write it as in /tmp:size=64m"
            ));
        }
        if path.trim_end_matches('/').is_empty() {
            return Err(
                "a tmpfs on / would hide the whole image; mount the directories the app \
                        writes, as in /tmp:size=64m"
                    .into(),
            );
        }
        for option in options.split(',').filter(|o| !o.is_empty()) {
            check_tmpfs_option(path, option)?;
        }
        Ok(TmpfsSpec::new(path, options))
    }
}

fn check_tmpfs_option(path: &str, option: &str) -> Result<(), String> {
    let (name, value) = option.split_once('=').unwrap_or((option, ""));
    let number = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
    let well_formed = match name {
        "size" => {
            let digits = value.trim_end_matches(['k', 'm', 'g', 'K', 'M', 'G', '%']);
            number(digits) && value.len() - digits.len() <= 1
        }
        "mode" => !value.is_empty() && value.bytes().all(|b| (b'0'..=b'7').contains(&b)),
        "uid" | "gid" | "nr_inodes" | "nr_blocks" => number(value),
        "U" => {
            return Err(format!(
                "podman's U option has no Docker equivalent, and the proof runs on Docker; \
                 give the owner as {path}:uid=UID,gid=GID"
            ))
        }
        "exec" | "noexec" | "suid" | "nosuid" | "dev" | "nodev" | "rw" | "ro" | "atime"
        | "noatime" | "diratime" | "nodiratime" | "relatime" | "norelatime" | "strictatime"
        | "sync" | "async" | "dirsync" | "mand" | "nomand" => value.is_empty(),
        _ => {
            return Err(format!(
                "unknown tmpfs option {option:?}; Docker takes size=64m, mode=1777, uid=N, \
                 gid=N, exec, noexec, nosuid, nodev, ro and the like"
            ))
        }
    };
    match well_formed {
        true => Ok(()),
        false => Err(format!(
            "tmpfs option {option:?} is malformed; write it as in size=64m, mode=1777, uid=1000"
        )),
    }
}

impl TryFrom<String> for TmpfsSpec {
    type Error = String;
    fn try_from(spec: String) -> Result<Self, String> {
        spec.parse()
    }
}

impl From<TmpfsSpec> for String {
    fn from(spec: TmpfsSpec) -> String {
        spec.to_string()
    }
}

/// A mount of one read-only run of the proof, as the run had it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum RunMount {
    Tmpfs {
        path: String,
        /// As after `--tmpfs PATH:`.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        options: String,
    },
    /// A fresh volume of ours, or for an empty one the platform gives the app, a tmpfs standing
    /// in for it. A read-only one still shows the image's files: an image VOLUME on a platform
    /// that does not make those writable.
    Volume {
        path: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        read_only: bool,
        /// It starts empty, as the platform gives a volume at this path: none of the image's
        /// files, and root-owned 0755 unless `owner`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        empty: bool,
        /// Who the platform makes an empty volume belong to (Kubernetes: fsGroup).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<MountOwner>,
    },
    /// A volume of ours that starts with a copy of the image's files at `path`, made as the
    /// platform's fix makes it: by Docker itself into a new volume, or by a copy step (the init
    /// container of the fix, `cp -a`) into a volume whose own directory the platform made.
    Seeded {
        path: String,
        /// The volume's own directory before the copy; none: as Docker makes it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        root: Option<VolumeRoot>,
        /// The copy step; none: Docker copies the image's files into the new volume.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        copy: Option<CopyStep>,
    },
}

/// A new volume's own directory as a platform makes it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct VolumeRoot {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits, setgid included (`0o2775`).
    pub mode: u32,
}

/// An init container of the image that copies what the image ships at a path into a new volume,
/// mounted at `profile::SEED_AT`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CopyStep {
    /// Who it runs as; none: the image's user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Its command, as the fix gives it.
    pub command: Vec<String>,
}

impl RunMount {
    pub fn path(&self) -> &str {
        match self {
            RunMount::Tmpfs { path, .. }
            | RunMount::Volume { path, .. }
            | RunMount::Seeded { path, .. } => path,
        }
    }
}

impl From<TmpfsSpec> for RunMount {
    fn from(spec: TmpfsSpec) -> Self {
        RunMount::Tmpfs {
            path: spec.path,
            options: spec.options,
        }
    }
}

/// `path` is `dir` or below it, comparing whole components (/tmpfoo is not below /tmp). A
/// trailing slash on `dir` is ignored, and `/` holds everything.
pub fn is_within(path: impl AsRef<[u8]>, dir: impl AsRef<[u8]>) -> bool {
    let (path, dir) = (path.as_ref(), dir.as_ref());
    let dir = dir.strip_suffix(b"/").unwrap_or(dir);
    path.starts_with(dir) && (path.len() == dir.len() || path[dir.len()] == b'/')
}

/// The directories above `path`, deepest first, without `/`; `path` itself first when
/// `include_self` (a written directory): the places a mount for it could go.
pub fn ancestors(path: &str, include_self: bool) -> Vec<&str> {
    let mut chain = vec![];
    if include_self && path != "/" {
        chain.push(path);
    }
    let mut rest = path;
    while let Some((parent, _)) = rest.rsplit_once('/') {
        if parent.is_empty() {
            break;
        }
        chain.push(parent);
        rest = parent;
    }
    chain
}

/// Escapes a path so that it is valid UTF-8 and cannot drive a terminal: non-UTF-8 bytes and
/// control characters become `\xNN`. Returns the text and whether the name was not UTF-8.
pub fn escape_path(raw: &[u8]) -> (String, bool) {
    let mut out = String::with_capacity(raw.len());
    let mut non_utf8 = false;
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                push_escaped(&mut out, c);
            }
        }
        for b in chunk.invalid() {
            non_utf8 = true;
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    (out, non_utf8)
}

/// Escapes control characters only, for free text such as log lines and commands.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    out
}

/// Pushes `c`, or its UTF-8 bytes as `\xNN` when it is a control character.
fn push_escaped(out: &mut String, c: char) {
    if c.is_control() {
        for b in c.to_string().bytes() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    } else {
        out.push(c);
    }
}

/// Permission bits as an octal string in the data (`"0644"`), a number in the program.
mod octal {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(mode: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        match mode {
            Some(m) => s.serialize_str(&format!("{:04o}", m & 0o7777)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| {
                u32::from_str_radix(&text, 8)
                    .map_err(|_| D::Error::custom(format!("mode {text:?} is not octal")))
            })
            .transpose()
    }
}

/// Builders for tests of every stage.
#[cfg(test)]
pub mod testing {
    use super::*;

    /// A 1-byte file created at startup by root, outside any volume, that would fail.
    pub fn write(path: &str) -> Write {
        Write {
            path: path.into(),
            non_utf8: false,
            change: Change::Created,
            file_type: FileType::File,
            bytes: Some(1),
            mode: Some(0o644),
            uid: Some(0),
            gid: Some(0),
            phase: Phase::Startup,
            probe: None,
            volume: false,
            would_fail: Some(true),
            fatal: None,
            kind: None,
            restart: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tmpfs_is_read_once_and_written_back_as_given() {
        let spec: TmpfsSpec = "/var/run/app:uid=1000,gid=1000,size=16m".parse().unwrap();
        assert_eq!(spec.path, "/var/run/app");
        assert_eq!(spec.options, "uid=1000,gid=1000,size=16m");
        assert_eq!(spec.to_string(), "/var/run/app:uid=1000,gid=1000,size=16m");
        assert!(spec.covers("/var/run/app/app.pid") && !spec.covers("/var/run/apps"));
        assert_eq!("/tmp".parse::<TmpfsSpec>().unwrap().to_string(), "/tmp");
        // In a report it is the same text, and it is checked again when read back.
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(json, r#""/var/run/app:uid=1000,gid=1000,size=16m""#);
        assert_eq!(serde_json::from_str::<TmpfsSpec>(&json).unwrap(), spec);
        assert!(serde_json::from_str::<TmpfsSpec>(r#""tmp""#).is_err());
    }

    #[test]
    fn a_bad_tmpfs_is_refused_with_the_fix() {
        let err = |spec: &str| spec.parse::<TmpfsSpec>().unwrap_err();
        assert!(err("tmp").contains("not an absolute path"));
        assert!(err("/").contains("hide the whole image"));
        assert!(err("/x:size=abc").contains("malformed"));
        assert!(err("/x:mode=999").contains("malformed"));
        assert!(err("/x:U").contains("uid=UID,gid=GID"));
        assert!(err("/x:bogus").contains("unknown tmpfs option"));
        assert!("/x:size=64m,mode=1777,noexec".parse::<TmpfsSpec>().is_ok());
    }

    #[test]
    fn run_mounts_are_tagged_data() {
        let mounts = vec![
            RunMount::from(TmpfsSpec::new("/run", "size=1m")),
            RunMount::Volume {
                path: "/data".into(),
                read_only: true,
                empty: false,
                owner: None,
            },
        ];
        let json = serde_json::to_value(&mounts).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"type": "tmpfs", "path": "/run", "options": "size=1m"},
                {"type": "volume", "path": "/data", "read_only": true}
            ])
        );
        assert_eq!(
            serde_json::from_value::<Vec<RunMount>>(json).unwrap(),
            mounts
        );
    }

    #[test]
    fn escapes_invalid_utf8_and_control_characters() {
        assert_eq!(escape_path(b"/tmp/ok"), ("/tmp/ok".to_string(), false));
        assert_eq!(
            escape_path(b"/tmp/\xff\x1b[31m"),
            ("/tmp/\\xff\\x1b[31m".to_string(), true)
        );
        assert_eq!(escape_path(b"/a\\b"), ("/a\\\\b".to_string(), false));
        assert_eq!(escape_text("a\x1b[2Jb'\\"), "a\\x1b[2Jb'\\");
    }

    #[test]
    fn release_content_is_code_web_content_executables_and_roots_configuration() {
        let release = |path, mode, uid| is_release_content(path, Some(mode), Some(uid));
        assert!(release("/app/notes.py", 0o644, 1000));
        assert!(release("/app/.venv/bin/python3", 0o777, 1000));
        assert!(release(
            "/app/.venv/lib/python3.11/site-packages/x/data.bin",
            0o644,
            1000
        ));
        assert!(release("/var/www/html/index.html", 0o644, 0));
        assert!(release("/opt/app/app.jar", 0o644, 1000));
        assert!(release("/srv/bin/server", 0o755, 1000));
        assert!(release("/etc/app/app.conf", 0o644, 0));
        // The app's own configuration and a database's files are its data.
        assert!(!release(
            "/var/lib/postgresql/15/main/postgresql.auto.conf",
            0o600,
            101
        ));
        assert!(!release(
            "/var/lib/postgresql/15/main/global/pg_filenode.map",
            0o600,
            101
        ));
        assert!(!release(
            "/var/lib/postgresql/15/main/PG_VERSION",
            0o600,
            101
        ));
        assert!(!release("/app/notes.db", 0o644, 1000));
        assert!(!release("/var/log/nginx/error.log", 0o640, 33));
    }

    #[test]
    fn within_compares_whole_components() {
        assert!(is_within("/var/run/x", "/var/run/"));
        assert!(is_within("/var/run", "/var/run"));
        assert!(!is_within("/var/runner", "/var/run"));
        assert!(is_within("/x", "/"));
        assert!(is_within(b"/tmp/a".as_slice(), b"/tmp".as_slice()));
    }

    #[test]
    fn root_is_no_user_uid_0_or_root_with_any_group() {
        let run = |user: &str| RunInfo {
            user: user.into(),
            ..RunInfo::default()
        };
        for user in ["", "0", "root", "0:0", "root:wheel"] {
            assert!(run(user).runs_as_root(), "{user:?}");
        }
        for user in ["1000", "1000:0", "appuser"] {
            assert!(!run(user).runs_as_root(), "{user:?}");
        }
    }

    #[test]
    fn exit_signal_follows_the_128_plus_n_convention() {
        assert_eq!(ExitStatus::from_code(137).signal, Some(9));
        assert_eq!(ExitStatus::from_code(0).signal, None);
        assert_eq!(ExitStatus::from_code(3).signal, None);
    }
}
