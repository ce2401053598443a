//! Recorded reports and profiles for the golden tests in every renderer, and reports at scale.

use crate::model::Report;
use crate::profile::Profile;

fn report(json: &str) -> Report {
    serde_json::from_str(json).expect("test report parses")
}

fn profile(name: &str) -> Profile {
    crate::profile::load(name).expect("built-in profile")
}

/// The phases fixture run as UID 1000 on ECS Fargate: four mounts and a remedy fix it.
pub fn needs_mounts() -> (Report, Profile) {
    (
        report(include_str!("../../tests/data/report-needs-mounts.json")),
        profile("ecs-fargate"),
    )
}

/// The phases fixture as recorded (root) on Kubernetes: it deletes a file of the image.
pub fn needs_changes() -> (Report, Profile) {
    (
        report(include_str!("../../tests/data/report-needs-changes.json")),
        profile("kubernetes"),
    )
}

/// The seed webhook after the rework, on plain Docker: nothing fails.
pub fn compatible() -> (Report, Profile) {
    (
        report(include_str!("../../tests/data/report-compatible.json")),
        profile("docker"),
    )
}

/// Two fatal writes and two the app skips silently, audited with the read-only proof.
pub fn proven() -> (Report, Profile) {
    (
        report(include_str!("../../tests/data/report-proven.json")),
        profile("ecs-fargate"),
    )
}

/// The same image logging a read-only error no planned mount covers: the proof fails.
pub fn unproven() -> (Report, Profile) {
    (
        report(include_str!("../../tests/data/report-unproven.json")),
        profile("ecs-fargate"),
    )
}

/// The proven fixture with mounts that start with the image's files, as the proof finds them
/// needed (the analyzer's plan is the proven fixture's): /var/cache/app a tmpfs and /scratch a volume, each a fresh copy at every start, and
/// /var/lib/app a volume of state that starts with the image's files once; /var/run/app starts
/// empty as before.
pub fn seeded() -> (Report, Profile) {
    use crate::model::{MountKind, RunMount, Seed};
    let (mut report, profile) = proven();
    // The app needs each of them.
    for w in &mut report.trace.writes {
        w.fatal = Some(true);
    }
    let mut mounts = report.plan.mounts.clone();
    for m in &mut mounts {
        let (kind, seed, state, hidden) = match m.path.as_str() {
            "/scratch" => (MountKind::Volume, Seed::Fresh, false, "/scratch/index"),
            "/var/cache/app" => (MountKind::Tmpfs, Seed::Fresh, false, "/var/cache/app/pages"),
            "/var/lib/app" => (MountKind::Volume, Seed::Once, true, "/var/lib/app/app.db"),
            _ => continue,
        };
        (m.kind, m.seed, m.state) = (kind, seed, state);
        (m.hides, m.hides_files) = (vec![hidden.to_string()], true);
        m.warnings.clear();
    }
    // The run that passed had them all, the volumes showing the image's files.
    let v = report.verification.as_mut().expect("a proven report");
    let passed = &mut v.runs[2];
    assert!(passed.passed);
    passed.mounts = mounts
        .iter()
        .map(|m| match m.kind {
            MountKind::Tmpfs if m.seed == Seed::Empty => RunMount::Tmpfs {
                path: m.path.clone(),
                options: "noexec,nosuid,nodev,uid=1000,gid=1000,size=16m".into(),
            },
            _ => RunMount::Volume {
                path: m.path.clone(),
                read_only: false,
                empty: false,
                owner: None,
            },
        })
        .collect();
    v.minimal_mounts = mounts;
    (report, profile)
}

/// The needs-mounts fixture with temp files of random names, judged again: run 0 and run 1 name
/// them as two runs of one image would. Two Python temp files in /tmp, a uv temp directory in
/// the image's /app/.venv (a mount of its own), Python's atomic bytecode write, the JVM's
/// hsperfdata by pid and Tomcat's work directory.
pub fn random_names(run: usize) -> (Report, Profile) {
    use crate::model::{FileType, ImageDir, Write};
    let names = [
        [
            "/tmp/tmpab12cd_e",
            "/tmp/tmpq9w8e7_r",
            "/app/.venv/.tmpcXFCmN",
            "/app/app/__pycache__/__init__.cpython-311.pyc.140642190761616",
            "/tmp/hsperfdata_root/1234",
            "/tmp/tomcat.8080.5419217316713582113",
        ],
        [
            "/tmp/tmpzz11yy_x",
            "/tmp/tmp0k_3m2pl",
            "/app/.venv/.tmpQ1w2E3",
            "/app/app/__pycache__/__init__.cpython-311.pyc.139912345678912",
            "/tmp/hsperfdata_root/77",
            "/tmp/tomcat.8080.8812763411234987654",
        ],
    ];
    let (recorded, profile) = needs_mounts();
    let mut trace = recorded.trace;
    let template = trace.writes[1].clone();
    for path in names[run] {
        let dir = path.starts_with("/app/.venv/") || path.starts_with("/tmp/tomcat");
        trace.writes.push(Write {
            path: path.into(),
            file_type: if dir { FileType::Dir } else { FileType::File },
            kind: None,
            ..template.clone()
        });
    }
    for dir in ["/app", "/app/.venv", "/app/app"] {
        trace.image_dirs.push(ImageDir {
            path: dir.into(),
            exists: true,
            hidden: 3,
            hidden_sample: vec![format!("{dir}/main.py")],
            hidden_files: Some(3),
            release: 1,
            release_sample: vec![format!("{dir}/main.py")],
            uid: Some(0),
            gid: Some(0),
        });
    }
    let catalogue = crate::analyze::Catalogue::builtin();
    (
        crate::analyze::analyze(trace, &profile, &[], &catalogue),
        profile,
    )
}

pub fn all() -> [(&'static str, (Report, Profile)); 6] {
    [
        ("needs_mounts", needs_mounts()),
        ("needs_changes", needs_changes()),
        ("compatible", compatible()),
        ("proven", proven()),
        ("unproven", unproven()),
        ("seeded", seeded()),
    ]
}

/// Reports at the scale that drowned the old renderers, for the tests of every renderer.
pub(crate) mod scale {
    use crate::model::{ErofsLine, Remedy, Report, Write};
    use crate::profile::Profile;

    /// The proven fixture as a Python web app: beside its two needed mounts and two it does
    /// without, `packages` packages each write a bytecode file and its temporary into their own
    /// `__pycache__`, one unneeded mount each, all explained by one remedy; the run with no mount
    /// logs the same read-only error at each of 300 probe attempts.
    pub fn python_app(packages: usize) -> (Report, Profile) {
        let (mut r, profile) = super::proven();
        let template = r.trace.writes[0].clone();
        let mount = r.plan.mounts[0].clone();
        let mut remedy = Remedy {
            id: "python-bytecode".into(),
            title: "Python writes bytecode caches (__pycache__) next to the sources".into(),
            fix: "Set PYTHONDONTWRITEBYTECODE=1 in the image.".into(),
            paths: vec![],
        };
        for k in 0..packages {
            let dir = format!("/app/pkg{k:03}/__pycache__");
            let mut covers = vec![];
            for (name, change) in [
                ("__init__.cpython-311.pyc", crate::model::Change::Created),
                (
                    "__init__.cpython-311.pyc.1402",
                    crate::model::Change::Transient,
                ),
            ] {
                let path = format!("{dir}/{name}");
                r.trace.writes.push(Write {
                    path: path.clone(),
                    change,
                    fatal: Some(false),
                    ..template.clone()
                });
                covers.push(path.clone());
                remedy.paths.push(path);
            }
            r.plan.mounts.push(crate::model::Mount {
                path: dir,
                covers,
                warnings: vec![],
                ..mount.clone()
            });
        }
        r.plan.mounts.sort_by(|a, b| a.path.cmp(&b.path));
        r.plan.remedies.push(remedy);
        let v = r.verification.as_mut().expect("a proven report");
        let line = v.runs[0].erofs_lines[0].clone();
        v.runs[0].erofs_lines = std::iter::repeat_n(line, 300)
            .chain((0..8).map(|i| ErofsLine {
                line: format!(
                    "worker {i}: cannot write /var/run/app/app.pid: Read-only file system"
                ),
                path: Some("/var/run/app/app.pid".into()),
            }))
            .collect();
        (r, profile)
    }

    /// Replaces the plan's mounts with one per write among the first `n`, each at the write's
    /// directory: as many mounts as a planner could ever produce.
    pub fn mount_per_write(report: &mut Report, n: usize) {
        let template = report.plan.mounts[0].clone();
        report.plan.mounts = report.trace.writes[..n]
            .iter()
            .map(|w| crate::model::Mount {
                path: w.path.rsplit_once('/').unwrap().0.to_string(),
                covers: vec![w.path.clone()],
                ..template.clone()
            })
            .collect();
    }

    /// A trace-sized report: `n` writes in `dirs` directories under /var/cache/app, one mount.
    pub fn many_writes(n: usize, dirs: usize) -> (Report, Profile) {
        let (mut r, profile) = super::needs_mounts();
        let template = r.trace.writes[0].clone();
        let mut mount = r.plan.mounts[2].clone();
        assert_eq!(mount.path, "/var/cache/app");
        r.trace.writes = (0..n)
            .map(|i| Write {
                path: format!("/var/cache/app/{:04}/f{i:06}", i % dirs),
                volume: false,
                kind: None,
                ..template.clone()
            })
            .collect();
        mount.covers = r.trace.writes.iter().map(|w| w.path.clone()).collect();
        r.plan.mounts = vec![mount];
        r.plan.remedies.clear();
        (r, profile)
    }
}
