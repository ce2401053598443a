//! Fix snippets, one function per [`FixFormat`], each complete enough to paste: the read-only
//! setting plus every mount of the plan, in the platform's own syntax. Mount names derive from
//! paths (`/var/run` → `var-run`). Notes a reader needs before pasting (writes no mount fixes,
//! mounts the audited configuration already declares) lead each snippet as comments; the mounts'
//! own warnings are in the report, not repeated here.

use std::fmt::Write as _;

use super::escape::{scalar, shell_quote};
use super::findings::{self, clean, plural};
use super::json::J;
use crate::model::{Mount, MountKind, Report};
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
            notes.push(format!(
                "Proven: it ran read-only {with} ({}).",
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
        let unfixable = if proven.is_some() {
            0
        } else {
            plan.unfixable.len()
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
        Ctx {
            report,
            profile,
            mounts,
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

    fn volumes(&self) -> impl Iterator<Item = &(String, &'a Mount)> {
        self.mounts
            .iter()
            .filter(|(_, m)| m.kind == MountKind::Volume)
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
    let mut args = vec!["--read-only".to_string()];
    for (_, m) in ctx.tmpfs() {
        args.push(format!("--tmpfs {}", shell_quote(&ctx.tmpfs_spec(m, fix))));
    }
    for (name, m) in ctx.volumes() {
        args.push(format!("-v {}", shell_quote(&format!("{name}:{}", m.path))));
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
    if ctx.tmpfs().next().is_some() {
        let _ = writeln!(out, "    tmpfs:");
        for (_, m) in ctx.tmpfs() {
            let _ = writeln!(
                out,
                "      - {}",
                scalar(&ctx.tmpfs_spec(m, FixFormat::Compose))
            );
        }
    }
    if ctx.volumes().next().is_some() {
        let _ = writeln!(out, "    volumes:");
        for (name, m) in ctx.volumes() {
            let _ = writeln!(out, "      - {}", scalar(&format!("{name}:{}", m.path)));
        }
        let _ = writeln!(out, "volumes:");
        for (name, _) in ctx.volumes() {
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

fn ecs(ctx: &Ctx) -> String {
    let mut out = String::new();
    ctx.comments(&mut out, "//");
    let mut container = vec![("readonlyRootFilesystem", J::from(true))];
    let tmpfs: Vec<J> = ctx.tmpfs().map(|(_, m)| ecs_tmpfs(ctx, m)).collect();
    if !tmpfs.is_empty() {
        container.push(("linuxParameters", J::obj([("tmpfs", J::Arr(tmpfs))])));
    }
    let volumes: Vec<_> = ctx.volumes().collect();
    if !volumes.is_empty() {
        container.push((
            "mountPoints",
            J::arr(volumes.iter().map(|(n, m)| ecs_mount_point(n, m))),
        ));
    }
    let _ = writeln!(
        out,
        "// Container definition: merge into the container's entry in containerDefinitions."
    );
    let _ = writeln!(out, "{}", J::obj(container).pretty());
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
    if ctx.profile.fallback.is_some() && ctx.tmpfs().next().is_some() {
        let _ = writeln!(
                out,
                "\n// Alternative without tmpfs: bind-mount volumes on the task's ephemeral storage \
                 (Fargate platform version 1.4.0+). Disk-backed, so they cost no task memory, but \
                 they take no mount options (no noexec, no uid=/gid=) and are root-owned 0755 unless \
                 the image declares a VOLUME at the path with the right owner."
            );
        let all = J::obj([
            ("readonlyRootFilesystem", J::from(true)),
            (
                "mountPoints",
                J::arr(ctx.mounts.iter().map(|(n, m)| ecs_mount_point(n, m))),
            ),
        ]);
        let _ = writeln!(out, "// Container definition:\n{}", all.pretty());
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
        .tmpfs()
        .map(|(_, m)| (*m, ctx.options(m, FixFormat::Cdk)))
        .collect();
    let camel: String = ctx
        .container
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next().map_or(String::new(), |f| {
                f.to_ascii_uppercase().to_string() + c.as_str()
            })
        })
        .collect();
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
    let volumes: Vec<_> = ctx.volumes().collect();
    let binding = if volumes.is_empty() {
        String::new()
    } else {
        "const container = ".to_string()
    };
    let _ = writeln!(
        out,
        "{binding}taskDefinition.addContainer({}, {{",
        ts_str(&ctx.container)
    );
    let _ = writeln!(
        out,
        "  image: ecs.ContainerImage.fromRegistry({}),",
        ts_str(&ctx.image)
    );
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
    out
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
    let _ = writeln!(out, "containers:");
    let _ = writeln!(out, "  - name: {}", ctx.container);
    let _ = writeln!(out, "    image: {}", scalar(&ctx.image));
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
            let has_volumes = report
                .fix_mounts()
                .iter()
                .any(|m| m.kind == MountKind::Volume);
            let has_tmpfs = report
                .fix_mounts()
                .iter()
                .any(|m| m.kind == MountKind::Tmpfs);
            let alternative = profile.fallback.is_some() && has_tmpfs;
            let expected = 1 + usize::from(has_volumes) + 2 * usize::from(alternative);
            assert_eq!(docs, expected, "{report_name}: {ecs}");
        }
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
