//! What an audit of several targets covers: a spec's containers, a config's targets or images
//! given together, each with how it runs and how to judge it.

use std::path::Path;

use anyhow::{bail, Result};

use super::judge::Judge;
use crate::analyze::accept::{Accept, Date};
use crate::config::Config;
use crate::input;
use crate::model::TmpfsSpec;
use crate::profile;
use crate::spec::{Deployment, SpecKind};
use crate::trace::RunOptions;

/// What an audit covers, as the user named it.
pub enum Scope<'a> {
    /// Images given together, each run the same way.
    Images(&'a [String]),
    /// A deployment spec's containers: those named (by full or plain name), else every one;
    /// `images` gives the image of a container whose own the engine cannot resolve.
    Spec {
        file: &'a Path,
        containers: &'a [String],
        images: &'a [(String, String)],
    },
    /// The config's targets: those named, else every one.
    Config { only: &'a [String] },
}

/// The targets of an audit, each judged as the settings and its platform say, with the
/// config's accept entries for it.
pub struct Selection {
    /// What reports name as audited: the spec, the images, or the config.
    pub source: String,
    pub targets: Vec<SpecTarget>,
    /// The judge the targets start from: its profile words the fixes.
    pub judge: Judge,
    /// The spec as read, for `--patch`: its kind and its text.
    pub spec: Option<(SpecKind, String)>,
    /// Accept entries past their date: they accept nothing, and fail the run.
    pub expired: Vec<Accept>,
}

/// The targets `scope` names. `config` is the settings layered over the config read from
/// `config_source` (empty when there is none), which judge every target; `base` runs what a
/// spec or a target does not say (the budgets, and the command line's run for images);
/// `declared` are the mounts every target already has.
pub fn select(
    scope: Scope,
    config: &Config,
    config_source: &str,
    base: &RunOptions,
    declared: Vec<TmpfsSpec>,
) -> Result<Selection> {
    let settings = &config.settle();
    let (source, mut targets, judge, spec) = match scope {
        Scope::Spec {
            file,
            containers,
            images,
        } => {
            let text = input::read_text(file)?;
            let deployment = crate::spec::read(file, &text, images)?;
            let platform = Some(deployment.kind.profile());
            let judge = Judge::from_settings(settings, platform, declared, None)?;
            let name = file.display().to_string();
            let targets = spec_targets(&deployment, &name, containers, base, &judge)?;
            (name, targets, judge, Some((deployment.kind, text)))
        }
        Scope::Images(images) => {
            let judge = Judge::from_settings(settings, None, declared, None)?;
            let targets = image_targets(images, base, &judge);
            (images.join(", "), targets, judge, None)
        }
        Scope::Config { .. } if config_source.is_empty() => bail!(
            "nothing to audit: give an IMAGE, a spec with -f FILE, or a {} with targets (`rofs-audit init IMAGE` writes one)",
            crate::config::FILE_NAME
        ),
        Scope::Config { only } => {
            if base.says_how_to_run() {
                bail!("--port, --probe, --env, --user, --cmd and a command say how to run one IMAGE; for the config's targets, write them in {config_source}");
            }
            let judge = Judge::from_settings(settings, None, declared, None)?;
            let targets = config_targets(config, config_source, only, base, &judge)?;
            (config_source.to_string(), targets, judge, None)
        }
    };
    let expired = accept(&mut targets, config, Date::today());
    Ok(Selection {
        source,
        targets,
        judge,
        spec,
        expired,
    })
}

/// One target of a multi-target audit (a spec's container, a config's image), ready to audit:
/// how it runs, and how to judge it (a spec's mounts are declared mounts).
pub struct SpecTarget {
    pub name: String,
    pub defined_at: String,
    /// Its path inside the spec's document.
    pub spec_path: Option<String>,
    pub run: RunOptions,
    pub judge: Judge,
    /// Variables (or compose secret files) the spec takes from elsewhere: the runs had
    /// placeholders for them.
    pub placeholders: Vec<String>,
    /// The container's memory limit, which tmpfs mounts count against.
    pub memory_mib: Option<u64>,
}

/// The containers of `deployment` (read from `file`) to audit: those named in `containers`
/// (by full or plain name), else every one. The spec says how each runs; `base` (the command
/// line) fills in what it does not say, and `judge` gives the platform and the remedies.
pub(super) fn spec_targets(
    deployment: &Deployment,
    file: &str,
    containers: &[String],
    base: &RunOptions,
    judge: &Judge,
) -> Result<Vec<SpecTarget>> {
    let named = |t: &crate::spec::Target, name: &str| {
        t.name == name || t.name.rsplit('/').next() == Some(name)
    };
    for name in containers {
        if !deployment.targets.iter().any(|t| named(t, name)) {
            let all: Vec<&str> = deployment.targets.iter().map(|t| t.name.as_str()).collect();
            bail!("{file}: no container {name:?}; it has {}", all.join(", "));
        }
    }
    let mut targets = vec![];
    for target in &deployment.targets {
        if !containers.is_empty() && !containers.iter().any(|name| named(target, name)) {
            continue;
        }
        // The spec's mounts, but a --tmpfs on the same path wins.
        let mut judge = judge.clone();
        let from_spec = target
            .mounts
            .iter()
            .filter(|m| !judge.declared.iter().any(|given| given.path == m.path));
        let mut declared: Vec<TmpfsSpec> = from_spec.cloned().collect();
        declared.append(&mut judge.declared);
        judge.declared = declared;
        targets.push(SpecTarget {
            name: target.name.clone(),
            defined_at: match target.location.line {
                Some(line) => format!("{file}:{line}"),
                None => format!("{file} ({})", target.location),
            },
            spec_path: Some(target.location.path.clone()),
            run: target.run_options(base),
            judge,
            placeholders: target.placeholders.clone(),
            memory_mib: target.memory_mib,
        });
    }
    if targets.is_empty() {
        bail!("{file}: no container to audit; name one with --container, or give its image with --image NAME=REF");
    }
    Ok(targets)
}

/// The targets of a config (`only` names some), each as its image or spec says it runs, over
/// `base` (the budgets, and what a spec does not say).
fn config_targets(
    config: &Config,
    source: &str,
    only: &[String],
    base: &RunOptions,
    judge: &Judge,
) -> Result<Vec<SpecTarget>> {
    let mut targets = vec![];
    for target in config.targets(source, only)? {
        if let Some(file) = &target.file {
            let name = file.display().to_string();
            let text = input::read_text(file)?;
            let images: Vec<(String, String)> = target.images.clone().into_iter().collect();
            let deployment = crate::spec::read(file, &text, &images)?;
            let mut judge = judge.clone();
            if config.profile.is_none() {
                judge.profile = profile::load(deployment.kind.profile())?;
            }
            // Named after the config's target too: two specs may both have a `web`, and
            // `--target` and accept entries name the config's target.
            let mut found = spec_targets(&deployment, &name, &target.containers, base, &judge)?;
            for container in &mut found {
                container.name = format!("{}/{}", target.name(), container.name);
            }
            targets.extend(found);
            continue;
        }
        let mut judge = judge.clone();
        judge.declared.extend(target.tmpfs.iter().cloned());
        targets.push(SpecTarget {
            name: target.name(),
            defined_at: config.defined_at(source, target),
            spec_path: None,
            run: target.run_options(base)?,
            judge,
            placeholders: vec![],
            memory_mib: None,
        });
    }
    Ok(targets)
}

impl SpecTarget {
    /// The target and where it is defined, as an error names it.
    pub fn named(&self) -> String {
        format!("{} ({})", self.name, self.defined_at)
    }
}

/// Images given together, each run as `base` says.
fn image_targets(images: &[String], base: &RunOptions, judge: &Judge) -> Vec<SpecTarget> {
    let target = |image: &String| SpecTarget {
        name: image.clone(),
        defined_at: "the command line".to_string(),
        spec_path: None,
        run: RunOptions {
            image: image.clone(),
            ..base.clone()
        },
        judge: judge.clone(),
        placeholders: vec![],
        memory_mib: None,
    };
    images.iter().map(target).collect()
}

/// Gives each target the config's accept entries for it, and returns those past their date:
/// they accept nothing, and fail the run.
fn accept(targets: &mut [SpecTarget], config: &Config, today: Date) -> Vec<Accept> {
    let mut expired: Vec<Accept> = vec![];
    for target in targets {
        let (active, past) = config.accepted(&target.name, &target.run.image, today);
        target.judge.accept = active;
        expired.extend(
            past.into_iter()
                .filter(|p| !expired.contains(p))
                .collect::<Vec<_>>(),
        );
    }
    expired
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selected(scope: Scope, config: &str, source: &str, base: &RunOptions) -> Result<Selection> {
        let config = Config::parse(Path::new(source), config).unwrap();
        select(scope, &config, source, base, vec![])
    }

    #[test]
    fn the_config_s_targets_need_a_config_and_say_how_they_run_themselves() {
        let base = RunOptions::testing("");
        let none = selected(Scope::Config { only: &[] }, "", "", &base);
        let none = none.err().unwrap().to_string();
        assert!(
            none.starts_with("nothing to audit: give an IMAGE"),
            "{none}"
        );
        let config = "targets:\n  - image: app:1\n";
        let port = RunOptions {
            port: Some(8080),
            ..base
        };
        let told = selected(Scope::Config { only: &[] }, config, "ci.yaml", &port);
        let told = told.err().unwrap().to_string();
        assert!(told.contains("write them in ci.yaml"), "{told}");
    }

    #[test]
    fn each_target_gets_its_accept_entries_and_the_expired_ones_are_returned() {
        let past = Date::today().plus_days(-1);
        let config = format!(
            "profile: kubernetes\ntargets:\n  - image: app:1\n  - image: worker:1\n\
             accept:\n  - path: /tmp/**\n    target: app:1\n    reason: scratch\n\
             \x20 - path: /run/**\n    reason: pid file\n    expires: {past}\n"
        );
        let base = RunOptions::testing("");
        let picked = selected(Scope::Config { only: &[] }, &config, "ci.yaml", &base).unwrap();
        assert_eq!(picked.source, "ci.yaml");
        assert_eq!(picked.judge.profile.name, "kubernetes");
        let names: Vec<&str> = picked.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["app:1", "worker:1"]);
        let accepted: Vec<usize> = picked
            .targets
            .iter()
            .map(|t| t.judge.accept.len())
            .collect();
        assert_eq!(accepted, [1, 0]);
        assert_eq!(picked.expired.len(), 1);
        assert_eq!(picked.expired[0].path, "/run/**");
    }

    #[test]
    fn images_given_together_run_alike_on_the_default_platform() {
        let images = ["a:1".to_string(), "b:1".to_string()];
        let base = RunOptions::testing("");
        let picked = selected(Scope::Images(&images), "", "", &base).unwrap();
        assert_eq!(picked.source, "a:1, b:1");
        assert_eq!(picked.judge.profile.name, profile::DEFAULT_PROFILE);
        let runs: Vec<&str> = picked
            .targets
            .iter()
            .map(|t| t.run.image.as_str())
            .collect();
        assert_eq!(runs, ["a:1", "b:1"]);
        assert!(picked.spec.is_none() && picked.expired.is_empty());
    }
}
