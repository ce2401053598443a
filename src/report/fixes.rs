//! Fix snippets, one function per [`FixFormat`], each complete enough to paste: the read-only
//! setting plus every mount of the plan, in the platform's own syntax. Mount names derive from
//! paths (`/var/run` → `var-run`). Notes a reader needs before pasting (writes no mount fixes,
//! mounts the audited configuration already declares) lead each snippet as comments; the mounts'
//! own warnings are in the report, not repeated here.

use std::fmt::Write as _;

use super::escape::{scalar, shell_quote};
use super::findings::{self, clean, plural};
use super::json::J;
use super::seed::{self, Copier, SEED_AT};
use crate::model::{Mount, MountKind, Report, Seed};
use crate::profile::{self, FixFormat, Profile, TmpfsOwner};

/// A heading for the snippet.
pub(crate) fn title(fix: FixFormat) -> &'static str {
    match fix {
        FixFormat::Docker => "docker run",
        FixFormat::Podman => "podman run",
        FixFormat::Compose => "Docker Compose service",
        FixFormat::Ecs => "Amazon ECS task definition (JSON)",
        FixFormat::Cdk => "AWS CDK (TypeScript)",
        FixFormat::Kubernetes => "Kubernetes pod spec",
    }
}

/// The language tag of a fenced code block holding the snippet (`jsonc`: the ECS fragments
/// carry `//` comments).
pub(crate) fn lang(fix: FixFormat) -> &'static str {
    match fix {
        FixFormat::Docker | FixFormat::Podman => "sh",
        FixFormat::Compose | FixFormat::Kubernetes => "yaml",
        FixFormat::Ecs => "jsonc",
        FixFormat::Cdk => "typescript",
    }
}

pub(crate) fn render(report: &Report, profile: &Profile, fix: FixFormat) -> String {
    let ctx = Ctx::new(report, profile);
    let mut out = match fix {
        FixFormat::Docker | FixFormat::Podman => run_command(&ctx, fix),
        FixFormat::Compose => compose(&ctx),
        FixFormat::Ecs => ecs(&ctx),
        FixFormat::Cdk => cdk(&ctx),
        FixFormat::Kubernetes => kubernetes(&ctx),
    };
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// What every snippet needs, worked out once.
struct Ctx<'a> {
    report: &'a Report,
    profile: &'a Profile,
    /// Every mount of the plan with its name, in plan order.
    mounts: Vec<(String, &'a Mount)>,
    /// The mounts that start with the image's files, each with its volume's name and the name
    /// of the container that copies them in where the platform does not.
    seeds: Vec<Seeded<'a>>,
    container: String,
    image: String,
    notes: Vec<String>,
}

impl<'a> Ctx<'a> {
    fn new(report: &'a Report, profile: &'a Profile) -> Self {
        let plan = &report.plan;
        let proven = report.verification.as_ref().filter(|v| v.passed);
        let shown = report.fix_mounts();
        let names = findings::mount_names(&shown);
        let mounts: Vec<_> = names.into_iter().zip(shown.iter().copied()).collect();
        let mut notes = vec![];
        if let Some(v) = proven {
            let with = if shown.is_empty() {
                "with no mount"
            } else {
                "with these mounts"
            };
            let once_moved = match v.stand_ins.as_slice() {
                [] => String::new(),
                dirs => format!(
                    ", and a fresh copy of the image's files standing in at {} for the data that \
                     must move out (see the report)",
                    dirs.join(", ")
                ),
            };
            notes.push(format!(
                "Proven: it ran read-only {with}{once_moved} ({}).",
                plural(v.run_count as usize, "run", "runs")
            ));
        }
        if let Some(v) = report.verification.as_ref().filter(|v| !v.passed) {
            notes.push(format!(
                "Not proven: {} ({}).",
                findings::proof_failed(report),
                v.failure.as_deref().unwrap_or("see the report")
            ));
        }
        let unfixable = match proven {
            Some(v) if v.stand_ins.is_empty() => 0,
            _ => plan.unfixable.len(),
        };
        if unfixable > 0 {
            notes.push(format!(
                "Not enough on its own: {} cannot be fixed by a mount (see the report).",
                plural(unfixable, "write", "writes")
            ));
        }
        if !plan.declared_mounts.is_empty() {
            let paths: Vec<_> = plan
                .declared_mounts
                .iter()
                .map(|p| clean(&p.to_string()).into_owned())
                .collect();
            notes.push(format!(
                "Keep the mounts you already declare: {}.",
                paths.join(", ")
            ));
        }
        let seeded: Vec<_> = mounts
            .iter()
            .filter(|(_, m)| m.starts_with() != Seed::Empty)
            .collect();
        let names = seed::names(seeded.iter().map(|(name, _)| name.as_str()));
        let seeds = seeded
            .into_iter()
            .zip(names)
            .map(|((volume, m), container)| Seeded {
                volume: volume.clone(),
                container,
                mount: m,
                seed: m.starts_with(),
            })
            .collect();
        Ctx {
            report,
            profile,
            mounts,
            seeds,
            container: findings::container_name(report),
            image: report.trace.image.reference.clone(),
            notes,
        }
    }

    fn tmpfs(&self) -> impl Iterator<Item = &(String, &'a Mount)> {
        self.mounts
            .iter()
            .filter(|(_, m)| m.kind == MountKind::Tmpfs)
    }

    /// The tmpfs mounts a tmpfs fixes: those that start empty. One that starts with a copy of
    /// the image's files is a volume on every platform but Kubernetes.
    fn empty_tmpfs(&self) -> impl Iterator<Item = &(String, &'a Mount)> {
        self.tmpfs().filter(|(_, m)| !seed::fresh(m))
    }

    /// The mounts a volume fixes where a tmpfs cannot start with the image's files: volumes,
    /// and the tmpfs mounts that start with a fresh copy.
    fn disk(&self) -> impl Iterator<Item = &(String, &'a Mount)> {
        self.mounts
            .iter()
            .filter(|(_, m)| m.kind == MountKind::Volume || seed::fresh(m))
    }

    /// The mounts that start with a fresh copy of the image's files, by their paths.
    fn fresh_paths(&self) -> Vec<String> {
        let fresh = self.mounts.iter().filter(|(_, m)| seed::fresh(m));
        fresh.map(|(_, m)| clean(&m.path).into_owned()).collect()
    }

    /// The volumes that start with the image's files once, then keep what the app writes.
    fn once(&self) -> impl Iterator<Item = &Seeded<'a>> {
        self.seeds.iter().filter(|s| s.seed == Seed::Once)
    }

    /// The user the audit ran as, when it is not the image's own.
    fn user_override(&self) -> Option<&'a str> {
        let t = &self.report.trace;
        (!t.run.user.is_empty() && t.run.user != t.image.user).then_some(t.run.user.as_str())
    }

    fn comments(&self, out: &mut String, prefix: &str) {
        for note in &self.notes {
            let _ = writeln!(out, "{prefix} {note}");
        }
    }
}

/// A mount that starts with the image's files at its path.
struct Seeded<'a> {
    /// The name of its volume.
    volume: String,
    /// The name of the container that copies the files in, on Kubernetes and ECS.
    container: String,
    mount: &'a Mount,
    seed: Seed,
}

/// How each fix format's platform gives a mount to the app's user.
fn owner_mechanism(fix: FixFormat) -> TmpfsOwner {
    match fix {
        FixFormat::Docker | FixFormat::Compose | FixFormat::Ecs | FixFormat::Cdk => {
            TmpfsOwner::Options
        }
        FixFormat::Podman => TmpfsOwner::Chown,
        FixFormat::Kubernetes => TmpfsOwner::FsGroup,
    }
}

impl Ctx<'_> {
    /// A mount's options in `fix`'s terms: the plan speaks the audited profile's (`uid=` on ECS,
    /// `U` on podman), and `--emit` may ask for another platform's.
    fn options(&self, m: &Mount, fix: FixFormat) -> Vec<String> {
        profile::mount_options(m, self.profile.tmpfs.owner, owner_mechanism(fix))
    }

    /// `NAME:OPTIONS,size=16m` for `--tmpfs` and compose's `tmpfs:` list.
    fn tmpfs_spec(&self, m: &Mount, fix: FixFormat) -> String {
        let mut opts = self.options(m, fix);
        opts.push(format!("size={}m", m.size_mib));
        format!("{}:{}", m.path, opts.join(","))
    }
}

/// `docker run` or `podman run`: the same flags, each mount's options in the plan's terms.
fn run_command(ctx: &Ctx, fix: FixFormat) -> String {
    let cli = if fix == FixFormat::Podman {
        "podman"
    } else {
        "docker"
    };
    let t = &ctx.report.trace;
    let mut out = String::new();
    ctx.comments(&mut out, "#");
    let engine = if fix == FixFormat::Podman {
        "Podman"
    } else {
        "Docker"
    };
    let fresh = ctx.fresh_paths();
    if !fresh.is_empty() {
        let _ = writeln!(
            out,
            "# {}: anonymous volumes, which {engine} fills with the image's files there when it \
             makes them, and --rm removes with the container: each container starts with a fresh \
             copy.",
            fresh.join(", ")
        );
    }
    for s in ctx.once() {
        let _ = writeln!(
            out,
            "# {}: a new named volume starts with the image's files there, then keeps what the \
             app writes.",
            clean(&s.mount.path)
        );
    }
    let mut args = vec!["--read-only".to_string()];
    if !fresh.is_empty() {
        args.push("--rm".to_string());
    }
    for (_, m) in ctx.empty_tmpfs() {
        args.push(format!("--tmpfs {}", shell_quote(&ctx.tmpfs_spec(m, fix))));
    }
    for (name, m) in ctx.disk() {
        let arg = match seed::fresh(m) {
            true => format!(
                "--mount {}",
                shell_quote(&format!("type=volume,dst={}", m.path))
            ),
            false => format!("-v {}", shell_quote(&format!("{name}:{}", m.path))),
        };
        args.push(arg);
    }
    if let Some(user) = ctx.user_override() {
        args.push(format!("--user {}", shell_quote(user)));
    }
    // The command the audit ran, when it is not the image's own.
    let mut command: Vec<&String> = vec![];
    if t.run.entrypoint != t.image.entrypoint {
        let mut words = t.run.entrypoint.iter();
        let first = words.next().map_or(String::new(), Clone::clone);
        args.push(format!("--entrypoint {}", shell_quote(&first)));
        command.extend(words);
        command.extend(&t.run.cmd);
    } else if t.run.cmd != t.image.cmd {
        command.extend(&t.run.cmd);
    }
    let mut last = shell_quote(&ctx.image);
    for word in command {
        last.push(' ');
        last.push_str(&shell_quote(word));
    }
    args.push(last);
    let _ = write!(out, "{cli} run");
    for arg in args {
        let _ = write!(out, " \\\n  {}", clean(&arg));
    }
    out.push('\n');
    out
}

fn compose(ctx: &Ctx) -> String {
    let mut out = String::new();
    ctx.comments(&mut out, "#");
    let _ = writeln!(out, "services:");
    let _ = writeln!(out, "  {}:", ctx.container);
    let _ = writeln!(out, "    image: {}", scalar(&ctx.image));
    if let Some(user) = ctx.user_override() {
        let _ = writeln!(out, "    user: {}", scalar(user));
    }
    let _ = writeln!(out, "    read_only: true");
    if ctx.empty_tmpfs().next().is_some() {
        let _ = writeln!(out, "    tmpfs:");
        for (_, m) in ctx.empty_tmpfs() {
            let _ = writeln!(
                out,
                "      - {}",
                scalar(&ctx.tmpfs_spec(m, FixFormat::Compose))
            );
        }
    }
    let named: Vec<_> = ctx.disk().filter(|(_, m)| !seed::fresh(m)).collect();
    let fresh = ctx.fresh_paths();
    if ctx.disk().next().is_some() {
        let _ = writeln!(out, "    volumes:");
        if !fresh.is_empty() {
            let _ = writeln!(
                out,
                "      # {}: anonymous volumes, which start with a copy of the image's files \
                 there; start with docker-compose up --renew-anon-volumes (-V) so each start \
                 gets a fresh copy.",
                fresh.join(", ")
            );
            for (_, m) in ctx.disk().filter(|(_, m)| seed::fresh(m)) {
                let _ = writeln!(out, "      - {}", scalar(&m.path));
            }
        }
        for (name, m) in &named {
            if m.starts_with() == Seed::Once {
                let _ = writeln!(
                    out,
                    "      # {}: a new named volume starts with the image's files there.",
                    clean(&m.path)
                );
            }
            let _ = writeln!(out, "      - {}", scalar(&format!("{name}:{}", m.path)));
        }
    }
    if !named.is_empty() {
        let _ = writeln!(out, "volumes:");
        for (name, _) in &named {
            let _ = writeln!(out, "  {name}: {{}}");
        }
    }
    out
}

fn ecs_tmpfs(ctx: &Ctx, m: &Mount) -> J {
    J::obj([
        ("containerPath", J::from(&m.path)),
        ("size", J::from(m.size_mib)),
        (
            "mountOptions",
            J::arr(ctx.options(m, FixFormat::Ecs).iter().map(J::from)),
        ),
    ])
}

fn ecs_mount_point(name: &str, m: &Mount) -> J {
    J::obj([
        ("sourceVolume", J::from(name)),
        ("containerPath", J::from(&m.path)),
        ("readOnly", J::from(false)),
    ])
}

fn ecs_volume(name: &str) -> J {
    J::obj([("name", J::from(name))])
}

/// What the app's container waits for: each seed container to have copied its files in.
fn ecs_depends_on(ctx: &Ctx) -> Option<J> {
    (!ctx.seeds.is_empty()).then(|| {
        J::arr(ctx.seeds.iter().map(|s| {
            J::obj([
                ("containerName", J::from(&s.container)),
                ("condition", J::from("SUCCESS")),
            ])
        }))
    })
}

/// The container that copies the image's files at a seeded mount's path into its volume, then
/// exits: as root, since a new task volume is root's.
fn ecs_seed_container(ctx: &Ctx, s: &Seeded) -> J {
    let command = seed::command(&s.mount.path, s.seed, Copier::Root);
    J::obj([
        ("name", J::from(&s.container)),
        ("image", J::from(&ctx.image)),
        ("essential", J::from(false)),
        ("user", J::from("0")),
        ("command", J::arr(command.iter().map(J::from))),
        ("readonlyRootFilesystem", J::from(true)),
        (
            "mountPoints",
            J::arr([J::obj([
                ("sourceVolume", J::from(&s.volume)),
                ("containerPath", J::from(SEED_AT)),
                ("readOnly", J::from(false)),
            ])]),
        ),
    ])
}

/// What a reader must know of the seed containers before pasting them, as `//` lines, the
/// first after `lead`.
fn ecs_seed_comments(ctx: &Ctx, out: &mut String, lead: &str) {
    let names: Vec<&str> = ctx.seeds.iter().map(|s| s.container.as_str()).collect();
    let _ = writeln!(
        out,
        "// {lead}{}: each copies the image's \
         files at its path into the volume the app mounts there, then exits (essential: false), \
         and the app's dependsOn waits for each to succeed. They run as root (user 0), since a \
         new task volume is root's, and cp -a gives the volume the owner and mode of the image's \
         directory; they write only to {SEED_AT}.",
        names.join(", ")
    );
    let once: Vec<&str> = ctx.once().map(|s| s.container.as_str()).collect();
    if !once.is_empty() {
        let _ = writeln!(
            out,
            "// {} copies only while the volume is empty, so what the app keeps there stays: \
             the image needs sh and cp.",
            once.join(", ")
        );
    }
    let fresh_tmpfs: Vec<String> = ctx
        .tmpfs()
        .filter(|(_, m)| seed::fresh(m))
        .map(|(_, m)| clean(&m.path).into_owned())
        .collect();
    if !fresh_tmpfs.is_empty() {
        let _ = writeln!(
            out,
            "// A tmpfs starts empty: {} is a volume on the task's ephemeral storage instead \
             (Fargate platform version 1.4.0+).",
            fresh_tmpfs.join(", ")
        );
    }
    let fresh = ctx.fresh_paths();
    if !fresh.is_empty() {
        let volumes: Vec<String> = fresh.iter().map(|p| format!("VOLUME {p}")).collect();
        let _ = writeln!(
            out,
            "// Or, for {}: declare {} in the image, and ECS copies the image's files there \
             into each new task's volume, with no seed container.",
            fresh.join(", "),
            volumes.join(" and ")
        );
    }
}

fn ecs(ctx: &Ctx) -> String {
    let mut out = String::new();
    ctx.comments(&mut out, "//");
    let mut container = vec![("readonlyRootFilesystem", J::from(true))];
    let tmpfs: Vec<J> = ctx.empty_tmpfs().map(|(_, m)| ecs_tmpfs(ctx, m)).collect();
    if !tmpfs.is_empty() {
        container.push(("linuxParameters", J::obj([("tmpfs", J::Arr(tmpfs))])));
    }
    let volumes: Vec<_> = ctx.disk().collect();
    if !volumes.is_empty() {
        container.push((
            "mountPoints",
            J::arr(volumes.iter().map(|(n, m)| ecs_mount_point(n, m))),
        ));
    }
    let depends_on = ecs_depends_on(ctx);
    if let Some(depends_on) = &depends_on {
        container.push(("dependsOn", depends_on.clone()));
    }
    let _ = writeln!(
        out,
        "// Container definition: merge into the container's entry in containerDefinitions."
    );
    let _ = writeln!(out, "{}", J::obj(container).pretty());
    if !ctx.seeds.is_empty() {
        let lead = "Task definition: add these to its containerDefinitions. ";
        ecs_seed_comments(ctx, &mut out, lead);
        let seeds = J::arr(ctx.seeds.iter().map(|s| ecs_seed_container(ctx, s)));
        let _ = writeln!(
            out,
            "{}",
            J::obj([("containerDefinitions", seeds)]).pretty()
        );
    }
    if !volumes.is_empty() {
        let _ = writeln!(
            out,
            "// Task definition: merge into its volumes. A volume with no host lives on the task's \
             ephemeral storage and goes with the task; give it an efsVolumeConfiguration if the data \
             must outlive the task (an EFS volume starts with none of the image's files, owned by \
             root: give it an access point that creates its directory with the app's uid and \
             gid)."
        );
        let task = J::obj([(
            "volumes",
            J::arr(volumes.iter().map(|(n, _)| ecs_volume(n))),
        )]);
        let _ = writeln!(out, "{}", task.pretty());
    }
    // The profile's fallback says the platform has disk-backed scratch space; on ECS that is a
    // bind-mount volume on the task's ephemeral storage, whatever the profile's own wording.
    if ctx.profile.fallback.is_some() && ctx.empty_tmpfs().next().is_some() {
        let _ = writeln!(
                out,
                "\n// Alternative without tmpfs: bind-mount volumes on the task's ephemeral storage \
                 (Fargate platform version 1.4.0+). Disk-backed, so they cost no task memory, but \
                 they take no mount options (no noexec, no uid=/gid=) and are root-owned 0755 unless \
                 the image declares a VOLUME at the path with the right owner."
            );
        let mut all = vec![
            ("readonlyRootFilesystem", J::from(true)),
            (
                "mountPoints",
                J::arr(ctx.mounts.iter().map(|(n, m)| ecs_mount_point(n, m))),
            ),
        ];
        if let Some(depends_on) = depends_on {
            all.push(("dependsOn", depends_on));
        }
        let _ = writeln!(out, "// Container definition:\n{}", J::obj(all).pretty());
        let task = J::obj([(
            "volumes",
            J::arr(ctx.mounts.iter().map(|(n, _)| ecs_volume(n))),
        )]);
        let _ = writeln!(out, "// Task definition:\n{}", task.pretty());
    }
    out
}

/// The options `ecs.TmpfsMountOption` has a member for (its values are these words).
const CDK_OPTIONS: &[&str] = &[
    "defaults",
    "ro",
    "rw",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "exec",
    "noexec",
    "sync",
    "async",
    "dirsync",
    "remount",
    "mand",
    "nomand",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "bind",
    "rbind",
    "unbindable",
    "runbindable",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
];

/// A TypeScript string literal.
fn ts_str(s: &str) -> String {
    if s.chars().any(|c| c == '\'' || c == '\\' || c.is_control()) {
        serde_json::to_string(s).expect("strings serialise")
    } else {
        format!("'{s}'")
    }
}

fn cdk(ctx: &Ctx) -> String {
    let mut out = String::new();
    ctx.comments(&mut out, "//");
    let _ = writeln!(out, "import * as ecs from 'aws-cdk-lib/aws-ecs';\n");
    let _ = writeln!(
        out,
        "// In the stack, where taskDefinition is the service's task definition."
    );
    // Each tmpfs mount with its options in ECS's terms.
    let tmpfs: Vec<(&Mount, Vec<String>)> = ctx
        .empty_tmpfs()
        .map(|(_, m)| (*m, ctx.options(m, FixFormat::Cdk)))
        .collect();
    let camel = pascal_case(&ctx.container);
    if !tmpfs.is_empty() {
        let _ = writeln!(
            out,
            "// tmpfs memory counts against the task's memory. Fargate takes tmpfs mounts since \
             January 2026, whatever older addTmpfs docs say."
        );
        let _ = writeln!(
            out,
            "const linuxParameters = new ecs.LinuxParameters(this, '{camel}LinuxParameters');"
        );
        if tmpfs
            .iter()
            .any(|(_, options)| options.iter().any(|o| !CDK_OPTIONS.contains(&o.as_str())))
        {
            let _ = writeln!(
                out,
                "// TmpfsMountOption has members for bare words only (UID is 'uid'): an option \
                 with a value, such as uid=1000, goes in as a string cast to the enum, and ECS \
                 passes it on to the mount."
            );
        }
        let _ = writeln!(out, "linuxParameters.addTmpfs(");
        for (m, options) in &tmpfs {
            let _ = writeln!(out, "  {{");
            let _ = writeln!(out, "    containerPath: {},", ts_str(&m.path));
            let _ = writeln!(out, "    size: {}, // MiB", m.size_mib);
            let members: Vec<String> = options
                .iter()
                .filter(|o| CDK_OPTIONS.contains(&o.as_str()))
                .map(|o| format!("ecs.TmpfsMountOption.{}", o.to_ascii_uppercase()))
                .collect();
            let valued: Vec<&String> = options
                .iter()
                .filter(|o| !CDK_OPTIONS.contains(&o.as_str()))
                .collect();
            let _ = writeln!(out, "    mountOptions: [");
            for member in &members {
                let _ = writeln!(out, "      {member},");
            }
            for o in valued {
                let _ = writeln!(
                    out,
                    "      {} as string as ecs.TmpfsMountOption,",
                    ts_str(o)
                );
            }
            let _ = writeln!(out, "    ],");
            let _ = writeln!(out, "  }},");
        }
        let _ = writeln!(out, ");\n");
    }
    let volumes: Vec<_> = ctx.disk().collect();
    let binding = if volumes.is_empty() {
        String::new()
    } else {
        "const container = ".to_string()
    };
    cdk_container(&mut out, &binding, &ctx.container, &ctx.image);
    if let Some(user) = ctx.user_override() {
        let _ = writeln!(out, "  user: {},", ts_str(user));
    }
    let _ = writeln!(out, "  readonlyRootFilesystem: true,");
    if !tmpfs.is_empty() {
        let _ = writeln!(out, "  linuxParameters,");
    }
    let _ = writeln!(out, "  // ...the container's other props, as they are");
    let _ = writeln!(out, "}});");
    if !volumes.is_empty() {
        let _ = writeln!(
            out,
            "\n// Volumes with no host live on the task's ephemeral storage and go with the task; \
             add efsVolumeConfiguration for data that must outlive it (an EFS volume starts with \
             none of the image's files, owned by root: give it an access point that creates its \
             directory with the app's uid and gid)."
        );
        for (name, m) in &volumes {
            let _ = writeln!(
                out,
                "taskDefinition.addVolume({{ name: {} }});",
                ts_str(name)
            );
            let _ = writeln!(
                out,
                "container.addMountPoints({{ sourceVolume: {}, containerPath: {}, readOnly: false }});",
                ts_str(name),
                ts_str(&m.path)
            );
        }
    }
    if !ctx.seeds.is_empty() {
        out.push('\n');
        ecs_seed_comments(ctx, &mut out, "");
        for s in &ctx.seeds {
            let var = format!("seed{}", pascal_case(&s.volume));
            let command = seed::command(&s.mount.path, s.seed, Copier::Root);
            let command: Vec<String> = command.iter().map(|w| ts_str(w)).collect();
            cdk_container(
                &mut out,
                &format!("const {var} = "),
                &s.container,
                &ctx.image,
            );
            let _ = writeln!(out, "  essential: false,");
            let _ = writeln!(out, "  user: '0',");
            let _ = writeln!(out, "  command: [{}],", command.join(", "));
            let _ = writeln!(out, "  readonlyRootFilesystem: true,");
            let _ = writeln!(out, "}});");
            let _ = writeln!(
                out,
                "{var}.addMountPoints({{ sourceVolume: {}, containerPath: {}, readOnly: false }});",
                ts_str(&s.volume),
                ts_str(SEED_AT)
            );
            let _ = writeln!(
                out,
                "container.addContainerDependencies({{ container: {var}, condition: \
                 ecs.ContainerDependencyCondition.SUCCESS }});"
            );
        }
    }
    out
}

/// The opening of a CDK `addContainer` call for `name` from `image`, bound as `binding` says
/// (`const x = `, or nothing).
fn cdk_container(out: &mut String, binding: &str, name: &str, image: &str) {
    let _ = writeln!(
        out,
        "{binding}taskDefinition.addContainer({}, {{",
        ts_str(name)
    );
    let _ = writeln!(
        out,
        "  image: ecs.ContainerImage.fromRegistry({}),",
        ts_str(image)
    );
}

/// `var-lib-app` → `VarLibApp`, for a TypeScript name.
fn pascal_case(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next().map_or(String::new(), |f| {
                f.to_ascii_uppercase().to_string() + c.as_str()
            })
        })
        .collect()
}

/// A container's securityContext: a read-only root, and the user the audit ran as when it is not
/// the image's own.
fn kubernetes_security(ctx: &Ctx, out: &mut String) {
    let _ = writeln!(out, "    securityContext:");
    let _ = writeln!(out, "      readOnlyRootFilesystem: true");
    if let Some(user) = ctx.user_override() {
        let run = &ctx.report.trace.run;
        match run.user_name().parse::<u32>() {
            Ok(uid) => {
                let _ = writeln!(out, "      runAsUser: {uid}");
                if let Some(gid) = run.group_name().and_then(|g| g.parse::<u32>().ok()) {
                    let _ = writeln!(out, "      runAsGroup: {gid}");
                }
            }
            Err(_) => {
                let _ = writeln!(
                    out,
                    "      # The audit ran as {}: runAsUser takes the numeric UID.",
                    clean(user)
                );
            }
        }
    }
}

/// A YAML flow list of strings, each in double quotes (JSON's, which YAML reads as its own).
fn flow_list(words: &[String]) -> String {
    let words: Vec<String> = words
        .iter()
        .map(|w| serde_json::to_string(w).expect("strings serialise"))
        .collect();
    format!("[{}]", words.join(", "))
}

/// The init containers that fill the seeded volumes, each with the app's image and user, a
/// read-only root and the volume at /seed, the one place it writes.
fn kubernetes_seeds(ctx: &Ctx, out: &mut String) {
    let _ = writeln!(out, "initContainers:");
    let _ = writeln!(
        out,
        "  # Each copies the image's files at a path into the volume the app mounts there, before \
         the app starts, entry by entry (cp -a of the directory itself would fail to set the \
         times of a volume its user does not own): the image needs find and cp."
    );
    for s in &ctx.seeds {
        if s.seed == Seed::Once {
            let _ = writeln!(
                out,
                "  # {} copies only while the claim is empty, so what the app keeps there stays: \
                 the image needs sh, ls, find and cp.",
                s.container
            );
        }
        let command = seed::command(&s.mount.path, s.seed, Copier::User);
        let _ = writeln!(out, "  - name: {}", s.container);
        let _ = writeln!(out, "    image: {}", scalar(&ctx.image));
        let _ = writeln!(out, "    command: {}", flow_list(&command));
        kubernetes_security(ctx, out);
        let _ = writeln!(out, "    volumeMounts:");
        let _ = writeln!(out, "      - name: {}", s.volume);
        let _ = writeln!(out, "        mountPath: {SEED_AT}");
    }
}

/// The group that must be able to write the emptyDir volumes: the mounts' owner's.
fn fs_group(ctx: &Ctx) -> Option<u32> {
    ctx.mounts.iter().find_map(|(_, m)| m.owner).map(|o| o.gid)
}

fn kubernetes(ctx: &Ctx) -> String {
    let mut out = String::new();
    ctx.comments(&mut out, "#");
    let _ = writeln!(
        out,
        "# Pod template spec (e.g. a Deployment's spec.template.spec): merge into yours."
    );
    if let Some(group) = fs_group(ctx) {
        if !ctx.mounts.is_empty() {
            let _ = writeln!(out, "securityContext:");
            let _ = writeln!(
                out,
                "  # emptyDir takes no uid=/gid= options: fsGroup {group} makes the volumes and the files \
                 in them group-owned by the app's group."
            );
            let _ = writeln!(out, "  fsGroup: {group}");
        }
    }
    if !ctx.seeds.is_empty() {
        kubernetes_seeds(ctx, &mut out);
    }
    let _ = writeln!(out, "containers:");
    let _ = writeln!(out, "  - name: {}", ctx.container);
    let _ = writeln!(out, "    image: {}", scalar(&ctx.image));
    kubernetes_security(ctx, &mut out);
    if !ctx.mounts.is_empty() {
        let _ = writeln!(out, "    volumeMounts:");
        for (name, m) in &ctx.mounts {
            let _ = writeln!(out, "      - name: {name}");
            let _ = writeln!(out, "        mountPath: {}", scalar(&m.path));
        }
        let _ = writeln!(out, "volumes:");
        let tmpfs: Vec<_> = ctx.tmpfs().collect();
        if !tmpfs.is_empty() {
            let _ = writeln!(
                out,
                "  # Memory-backed emptyDir counts against the container's memory limit and takes \
                 no mount options ({}).",
                tmpfs
                    .iter()
                    .flat_map(|(_, m)| ctx.options(m, FixFormat::Kubernetes))
                    .fold(Vec::<String>::new(), |mut all, o| {
                        if !all.contains(&o) {
                            all.push(o);
                        }
                        all
                    })
                    .join(", ")
            );
        }
        for (name, m) in &ctx.mounts {
            let _ = writeln!(out, "  - name: {name}");
            if tmpfs.iter().any(|(n, _)| n == name) {
                let _ = writeln!(out, "    emptyDir:");
                let _ = writeln!(out, "      medium: Memory");
                let _ = writeln!(out, "      sizeLimit: {}Mi", m.size_mib);
            } else if seed::fresh(m) {
                let _ = writeln!(
                    out,
                    "    # Scratch space on the node's disk, filled afresh for each pod, and gone \
                     with it."
                );
                let _ = writeln!(out, "    emptyDir: {{}}");
            } else {
                let _ = writeln!(
                    out,
                    "    # Data meant to last: a claim you create ({}), or emptyDir: {{}} if it may \
                     go with the pod.",
                    if m.size_mib > 0 {
                        format!("{}Mi", m.size_mib)
                    } else {
                        "any size".to_string()
                    }
                );
                let _ = writeln!(out, "    persistentVolumeClaim:");
                let _ = writeln!(out, "      claimName: {name}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata;

    const ALL: [FixFormat; 6] = [
        FixFormat::Docker,
        FixFormat::Podman,
        FixFormat::Compose,
        FixFormat::Ecs,
        FixFormat::Cdk,
        FixFormat::Kubernetes,
    ];

    fn name(fix: FixFormat) -> &'static str {
        match fix {
            FixFormat::Docker => "docker",
            FixFormat::Podman => "podman",
            FixFormat::Compose => "compose",
            FixFormat::Ecs => "ecs",
            FixFormat::Cdk => "cdk",
            FixFormat::Kubernetes => "kubernetes",
        }
    }

    #[test]
    fn fix_golden() {
        for (report_name, (report, profile)) in testdata::all() {
            for fix in ALL {
                let out = render(&report, &profile, fix);
                insta::assert_snapshot!(format!("fix_{}_{report_name}", name(fix)), out);
            }
        }
    }

    /// The YAML and JSON snippets parse, and say what they should.
    #[test]
    fn snippets_parse() {
        for (report_name, (report, profile)) in testdata::all() {
            let compose: serde_yaml_ng::Value =
                serde_yaml_ng::from_str(&render(&report, &profile, FixFormat::Compose)).unwrap();
            let services = compose["services"].as_mapping().expect("services");
            let service = services.values().next().expect("one service");
            assert_eq!(service["read_only"], true, "{report_name}");

            let k8s: serde_yaml_ng::Value =
                serde_yaml_ng::from_str(&render(&report, &profile, FixFormat::Kubernetes)).unwrap();
            assert_eq!(
                k8s["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
                true
            );
            let volumes = k8s["volumes"].as_sequence().map_or(0, Vec::len);
            assert_eq!(volumes, report.fix_mounts().len(), "{report_name}");

            // Without its // comment lines, the ECS snippet is a run of JSON objects.
            let ecs = render(&report, &profile, FixFormat::Ecs);
            let json: String = ecs
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(|l| format!("{l}\n"))
                .collect();
            let docs = serde_json::Deserializer::from_str(&json)
                .into_iter::<serde_json::Value>()
                .map(|d| d.expect("valid JSON"))
                .inspect(|d| assert!(d.is_object()))
                .count();
            // The container fragment, the task's volumes when there are any, and the
            // ephemeral-storage alternative (container and task) when tmpfs mounts have one.
            // The seed containers when a mount starts with the image's files; a tmpfs that starts
            // with a fresh copy of them is a volume.
            let mounts = report.fix_mounts();
            let has_seeds = mounts.iter().any(|m| m.starts_with() != Seed::Empty);
            let has_volumes = mounts
                .iter()
                .any(|m| m.kind == MountKind::Volume || seed::fresh(m));
            let has_tmpfs = mounts
                .iter()
                .any(|m| m.kind == MountKind::Tmpfs && !seed::fresh(m));
            let alternative = profile.fallback.is_some() && has_tmpfs;
            let expected = 1
                + usize::from(has_seeds)
                + usize::from(has_volumes)
                + 2 * usize::from(alternative);
            assert_eq!(docs, expected, "{report_name}: {ecs}");
        }
    }

    /// A fresh tmpfs, a fresh volume and a volume seeded once, each in the platform's own way.
    #[test]
    fn seeded_mounts_start_with_the_images_files_on_every_platform() {
        let (report, profile) = testdata::seeded();
        let docker = render(&report, &profile, FixFormat::Docker);
        for arg in [
            "--rm",
            "--mount type=volume,dst=/scratch",
            "--mount type=volume,dst=/var/cache/app",
            "-v var-lib-app:/var/lib/app",
            "--tmpfs /var/run/app:",
        ] {
            assert!(docker.contains(&format!("  {arg}")), "{arg}: {docker}");
        }
        assert!(!docker.contains("--tmpfs /var/cache/app"), "{docker}");

        let compose: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&render(&report, &profile, FixFormat::Compose)).unwrap();
        let service = &compose["services"]["fatal-and-tolerated"];
        let list = |v: &serde_yaml_ng::Value| -> Vec<String> {
            serde_yaml_ng::from_value(v.clone()).unwrap()
        };
        assert_eq!(
            list(&service["volumes"]),
            ["/scratch", "/var/cache/app", "var-lib-app:/var/lib/app"]
        );
        assert_eq!(list(&service["tmpfs"]).len(), 1);
        let named = compose["volumes"].as_mapping().unwrap();
        assert_eq!(named.keys().collect::<Vec<_>>(), ["var-lib-app"]);

        let k8s: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&render(&report, &profile, FixFormat::Kubernetes)).unwrap();
        let init = k8s["initContainers"].as_sequence().unwrap();
        let names: Vec<&str> = init.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["seed-scratch", "seed-var-cache-app", "seed-var-lib-app"]
        );
        for (c, volume) in init.iter().zip(["scratch", "var-cache-app", "var-lib-app"]) {
            assert_eq!(c["image"], k8s["containers"][0]["image"]);
            assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
            assert_eq!(c["volumeMounts"][0]["name"], volume);
            assert_eq!(c["volumeMounts"][0]["mountPath"], "/seed");
        }
        assert_eq!(init[1]["command"][0], "find");
        assert_eq!(init[2]["command"][0], "sh");
        let volumes = k8s["volumes"].as_sequence().unwrap();
        assert_eq!(
            volumes[0]["emptyDir"],
            serde_yaml_ng::Value::Mapping(Default::default())
        );
        assert_eq!(volumes[1]["emptyDir"]["medium"], "Memory");
        assert_eq!(
            volumes[2]["persistentVolumeClaim"]["claimName"],
            "var-lib-app"
        );

        let ecs = render(&report, &profile, FixFormat::Ecs);
        let json: String = ecs
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .map(|l| format!("{l}\n"))
            .collect();
        let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&json)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        let app = &docs[0];
        assert_eq!(app["linuxParameters"]["tmpfs"].as_array().unwrap().len(), 1);
        assert_eq!(app["mountPoints"].as_array().unwrap().len(), 3);
        let depends: Vec<&str> = app["dependsOn"]
            .as_array()
            .unwrap()
            .iter()
            .inspect(|d| assert_eq!(d["condition"], "SUCCESS"))
            .map(|d| d["containerName"].as_str().unwrap())
            .collect();
        assert_eq!(depends, names);
        let seeds = docs[1]["containerDefinitions"].as_array().unwrap();
        for (seed, name) in seeds.iter().zip(&names) {
            assert_eq!(&seed["name"], name);
            assert_eq!(seed["essential"], false);
            assert_eq!(seed["readonlyRootFilesystem"], true);
            assert_eq!(seed["mountPoints"][0]["containerPath"], "/seed");
        }
        assert_eq!(
            seeds[1]["command"],
            serde_json::json!(["cp", "-a", "/var/cache/app/.", "/seed/"])
        );
        assert_eq!(docs[2]["volumes"].as_array().unwrap().len(), 3);
    }

    /// The UID 1000 trace judged again for another platform.
    fn rejudged(profile: &str) -> (Report, Profile) {
        let (report, _) = testdata::needs_mounts();
        let profile = crate::profile::load(profile).unwrap();
        let catalogue = crate::analyze::Catalogue::builtin();
        let report = crate::analyze::analyze(report.trace, &profile, &[], &catalogue);
        (report, profile)
    }

    #[test]
    fn kubernetes_sets_fs_group_for_a_non_root_user() {
        // Judged for Kubernetes, and emitted for Kubernetes from an ECS audit: the owner goes
        // into fsGroup, never into emptyDir options.
        let (ecs_report, ecs_profile) = testdata::needs_mounts();
        for (report, profile) in [rejudged("kubernetes"), (ecs_report, ecs_profile)] {
            let text = render(&report, &profile, FixFormat::Kubernetes);
            let k8s: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
            assert_eq!(k8s["securityContext"]["fsGroup"], 1000, "{text}");
            assert!(!text.contains("uid=1000"), "{text}");
        }
        let (report, profile) = testdata::needs_changes();
        let k8s: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&render(&report, &profile, FixFormat::Kubernetes)).unwrap();
        assert!(k8s["securityContext"].is_null());
    }

    #[test]
    fn podman_owns_its_tmpfs_with_u_never_uid() {
        let (ecs_report, ecs_profile) = testdata::needs_mounts();
        for (report, profile) in [rejudged("podman"), (ecs_report, ecs_profile)] {
            let text = render(&report, &profile, FixFormat::Podman);
            assert!(text.starts_with("podman run"), "{text}");
            assert!(
                text.contains("--tmpfs /var/run:noexec,nosuid,nodev,U,size=16m"),
                "{text}"
            );
            assert!(!text.contains("uid="), "{text}");
        }
    }
}
