//! How a trace is judged: the platform's profile, the remedies, the mounts the deployment already
//! has, an earlier report to compare with, and what the team accepts.

use std::path::Path;

use anyhow::{bail, Result};

use crate::analyze::accept::{self, Accept};
use crate::analyze::{self, baseline, Catalogue};
use crate::config::Settings;
use crate::input;
use crate::model::{Report, TmpfsSpec, Trace};
use crate::profile::{self, Profile};

/// How to judge a trace: the platform, the mounts the deployment already has, and the remedies.
#[derive(Clone)]
pub struct Judge {
    pub profile: Profile,
    pub catalogue: Catalogue,
    /// The mounts the deployment already has.
    pub declared: Vec<TmpfsSpec>,
    /// An earlier report, and the file it came from: what is new is what counts.
    pub baseline: Option<(String, Report)>,
    /// What the team accepts (a config's `accept:` entries for this target).
    pub accept: Vec<Accept>,
}

impl Judge {
    /// Loads the profile (a built-in name or a YAML file) and the remedies (the built-in
    /// catalogue, with `remedies` added) and checks the declared mounts: mistakes fail here,
    /// before anything runs.
    pub fn load(profile: &str, remedies: Option<&Path>, declared: Vec<TmpfsSpec>) -> Result<Self> {
        let profile = profile::load(profile)?;
        for (i, mount) in declared.iter().enumerate() {
            let path = mount.path.trim_end_matches('/');
            if declared[..i]
                .iter()
                .any(|m| m.path.trim_end_matches('/') == path)
            {
                bail!("--tmpfs {path} is given twice; keep one, with all its options");
            }
        }
        Ok(Judge {
            profile,
            catalogue: match remedies {
                Some(file) => Catalogue::with_file(file)?,
                None => Catalogue::builtin(),
            },
            declared,
            baseline: None,
            accept: vec![],
        })
    }

    /// The judge `settings` name: their profile, else the spec's platform (`platform`), else
    /// the default; their remedies; every report compared with the one in `baseline`.
    pub fn from_settings(
        settings: &Settings,
        platform: Option<&str>,
        declared: Vec<TmpfsSpec>,
        baseline: Option<&Path>,
    ) -> Result<Self> {
        let profile = settings.profile.as_deref().or(platform);
        let profile = profile.unwrap_or(profile::DEFAULT_PROFILE);
        let mut judge = Judge::load(profile, settings.remedies.as_deref(), declared)?;
        if let Some(file) = baseline {
            let report = input::read_report(file)?;
            judge.baseline = Some((file.display().to_string(), report));
        }
        Ok(judge)
    }

    /// Judges a trace without proving anything: `suggest`.
    pub fn analyze(&self, trace: Trace) -> Report {
        let mut report = self.plan(trace);
        self.compare(&mut report);
        report
    }

    pub(super) fn plan(&self, trace: Trace) -> Report {
        analyze::analyze(trace, &self.profile, &self.declared, &self.catalogue)
    }

    pub(super) fn compare(&self, report: &mut Report) {
        let findings = baseline::all_findings(report);
        accept::apply(report, &findings, &self.accept);
        report.baseline = self
            .baseline
            .as_ref()
            .map(|(file, before)| baseline::compare(report, before, file));
    }
}
