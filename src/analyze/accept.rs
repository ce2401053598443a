//! Accepted findings: writes a team has decided to live with, each with its reason and, where
//! it is a stopgap, the date it expires (a config's `accept:` entries).
//!
//! A finding (a mount the fix needs, or writes no mount fixes) is accepted when every failing
//! write behind it matches one entry's path glob: accepting `__pycache__` does not also accept
//! a log file that shares its directory.
//!
//! A temp file's random name never recurs (see [`names`]): an entry matches such a write when its
//! glob does (`/tmp/tmp*`, `/tmp/*`), and an entry that names one run's file (copied from a
//! report) matches the next run's too, through the pattern of the name.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::{baseline, names};
use crate::model::{Accepted, BaselineFinding, Report, Write};

/// One `accept:` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accept {
    /// A glob over paths in the container: `*` and `?` within a component, `**` for any number
    /// of components.
    pub path: String,
    /// The target it applies to (its name, or its image) [default: every target].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Why the write may stay.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Date>,
}

impl Accept {
    /// Whether the glob matches `path`, or the pattern of the glob's random name does.
    pub fn matches(&self, path: &str) -> bool {
        let path: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let glob = |glob: &str| {
            let pattern: Vec<&str> = glob.split('/').filter(|c| !c.is_empty()).collect();
            glob_components(&pattern, &path)
        };
        glob(&self.path) || matches!(names::pattern(&self.path), Cow::Owned(p) if glob(&p))
    }

    /// Whether it applies to `target` (its name, or its image); a config's spec target
    /// (`NAME/CONTAINER`) is also named by its config name alone.
    pub fn applies_to(&self, target: &str, image: &str) -> bool {
        self.target.as_deref().is_none_or(|t| {
            t == target || t == image || target.strip_prefix(t).is_some_and(|c| c.starts_with('/'))
        })
    }

    pub fn expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|date| date < today)
    }
}

fn glob_components(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| glob_components(rest, &path[skip..])),
        Some((first, rest)) => path.split_first().is_some_and(|(name, tail)| {
            glob_name(first.as_bytes(), name.as_bytes()) && glob_components(rest, tail)
        }),
    }
}

fn glob_name(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| glob_name(rest, &name[skip..])),
        Some((&c, rest)) => name
            .split_first()
            .is_some_and(|(&n, tail)| (c == b'?' || c == n) && glob_name(rest, tail)),
    }
}

/// A calendar date, as `expires: 2027-03-01` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    year: u32,
    month: u32,
    day: u32,
}

impl Date {
    /// Today in UTC, where CI runners live.
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Date::from_days((secs / 86_400) as i64)
    }

    /// The date `days` later.
    pub fn plus_days(self, days: i64) -> Date {
        Date::from_days(self.days() + days)
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm, as `from_days`).
    fn days(self) -> i64 {
        let (month, day) = (i64::from(self.month), i64::from(self.day));
        let year = i64::from(self.year) - i64::from(month <= 2);
        let era = year.div_euclid(400);
        let yoe = year.rem_euclid(400);
        let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The civil date `days` after 1970-01-01 (Howard Hinnant's algorithm).
    fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as u32;
        Date { year, month, day }
    }
}

impl std::str::FromStr for Date {
    type Err = String;
    fn from_str(s: &str) -> Result<Date, String> {
        let wrong = || format!("{s:?} is not a date; write it as YYYY-MM-DD, as 2027-03-01");
        let mut parts = s
            .splitn(3, '-')
            .map(|p| p.parse::<u32>().map_err(|_| wrong()));
        let (year, month, day) = match (parts.next(), parts.next(), parts.next()) {
            (Some(y), Some(m), Some(d)) => (y?, m?, d?),
            _ => return Err(wrong()),
        };
        match (1..=12).contains(&month) && (1..=31).contains(&day) && s.len() == 10 {
            true => Ok(Date { year, month, day }),
            false => Err(wrong()),
        }
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The failing writes behind a finding: what an entry must match to accept it.
fn writes_behind<'a>(report: &'a Report, finding: &BaselineFinding) -> Vec<&'a Write> {
    let failing = report
        .trace
        .writes
        .iter()
        .filter(|w| w.would_fail == Some(true));
    match finding {
        BaselineFinding::Mount(mount) => {
            failing.filter(|w| names::within(&w.path, mount)).collect()
        }
        BaselineFinding::Unfixable(_) => {
            let unfixable = &report.plan.unfixable;
            failing
                .filter(|w| unfixable.iter().any(|u| u.path == w.path))
                .filter(|w| baseline::unfixable_finding(&w.path) == *finding)
                .collect()
        }
        BaselineFinding::Verdict(_) | BaselineFinding::Gate(_) => vec![],
    }
}

/// Records in `report` which of `findings` the entries accept: those whose failing writes all
/// match one entry, or with no failing write behind them, whose path does.
pub fn apply(report: &mut Report, findings: &[BaselineFinding], entries: &[Accept]) {
    let mut accepted = vec![];
    for finding in findings {
        let writes = writes_behind(report, finding);
        let entry = entries.iter().find(|entry| {
            let named = match finding {
                BaselineFinding::Mount(path) | BaselineFinding::Unfixable(path) => {
                    entry.matches(path)
                }
                _ => false,
            };
            // By its path only where no failing write is behind it (a volume for state): else a
            // broad glob (`/*`) would accept writes it does not match.
            match writes.is_empty() {
                true => named,
                false => writes.iter().all(|w| entry.matches(&w.path)),
            }
        });
        if let Some(entry) = entry {
            accepted.push(Accepted {
                finding: finding.clone(),
                path: entry.path.clone(),
                reason: entry.reason.clone(),
                expires: entry.expires.map(|d| d.to_string()),
            });
        }
    }
    report.accepted = accepted;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::is_within;
    use crate::report::testdata;

    fn entry(path: &str) -> Accept {
        Accept {
            path: path.into(),
            target: None,
            reason: "because".into(),
            expires: None,
        }
    }

    #[test]
    fn globs_match_whole_components_and_double_stars_any_number_of_them() {
        let pycache = entry("/app/**/__pycache__/**");
        assert!(pycache.matches("/app/__pycache__/m.cpython-311.pyc"));
        assert!(pycache.matches("/app/src/pkg/__pycache__/m.pyc"));
        assert!(pycache.matches("/app/src/__pycache__"));
        assert!(!pycache.matches("/app/src/m.py"));
        assert!(!pycache.matches("/opt/__pycache__/m.pyc"));
        assert!(entry("/tmp/*.pid").matches("/tmp/app.pid"));
        assert!(!entry("/tmp/*.pid").matches("/tmp/a/app.pid"));
        assert!(entry("/var/log/app?.log").matches("/var/log/app1.log"));
        assert!(entry("/*").matches("/data"));
        assert!(!entry("/*").matches("/data/db/x"));
        let web = Accept {
            target: Some("deploy".into()),
            ..entry("/x")
        };
        assert!(web.applies_to("deploy/web", "web:1"));
        assert!(!web.applies_to("deployment/web", "web:1"));
    }

    #[test]
    fn an_entry_for_a_random_name_matches_the_next_runs_name() {
        let (mut report, _) = testdata::random_names(1);
        let findings = crate::analyze::baseline::all_findings(&report);
        let venv = BaselineFinding::Unfixable("/app/.venv".into());
        assert!(findings.contains(&venv), "{findings:?}");
        let accepted = |report: &Report| -> Vec<BaselineFinding> {
            report.accepted.iter().map(|a| a.finding.clone()).collect()
        };
        // The pattern, the directory's glob, and the name an earlier run's report gave it.
        for glob in [
            "/app/.venv/.tmp*",
            "/app/.venv/*",
            "/app/.venv/**",
            "/app/.venv/.tmpcXFCmN",
        ] {
            apply(&mut report, &findings, &[entry(glob)]);
            assert_eq!(accepted(&report), std::slice::from_ref(&venv), "{glob}");
        }
        // A pattern accepts the writes it names, not the others beside them: /tmp's mount also
        // covers a lock file.
        apply(&mut report, &findings, &[entry("/tmp/tmp*")]);
        assert_eq!(accepted(&report), [], "{:?}", report.accepted);
        assert!(entry("/tmp/tmp*").matches("/tmp/tmpzz11yy_x"));
        assert!(entry("/tmp/tmpab12cd_e").matches("/tmp/tmpzz11yy_x"));
        assert!(!entry("/tmp/tmpab12cd_e").matches("/tmp/startup.lock"));
        assert!(entry("/tmp/hsperfdata_root/1234").matches("/tmp/hsperfdata_root/77"));
        // Unfixable writes in temp directories of random names, by the pattern of the directory.
        let conf = "/tmp/tmpzz11yy_x/app.conf";
        report.trace.writes.push(crate::model::testing::write(conf));
        report.plan.unfixable = vec![crate::model::Unfixable {
            path: conf.into(),
            moves_from: None,
            reason: "no mount".into(),
        }];
        let unfixable = crate::analyze::baseline::unfixable_finding(conf);
        assert_eq!(unfixable, BaselineFinding::Unfixable("/tmp/tmp*".into()));
        let unfixable = [unfixable];
        apply(&mut report, &unfixable, &[entry("/tmp/tmp*/*.conf")]);
        assert_eq!(accepted(&report), unfixable);
    }

    #[test]
    fn dates_parse_compare_and_count_from_the_epoch() {
        let date: Date = "2027-03-01".parse().unwrap();
        assert_eq!(date.to_string(), "2027-03-01");
        assert!(date < "2027-03-02".parse().unwrap());
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days(20_513).to_string(), "2026-03-01");
        assert_eq!(date.plus_days(0), date);
        assert_eq!(date.plus_days(-1).to_string(), "2027-02-28");
        assert_eq!(date.plus_days(306).to_string(), "2028-01-01");
        assert!("2027-3-1".parse::<Date>().is_err());
        assert!("tomorrow".parse::<Date>().is_err());
        let expiring = Accept {
            expires: Some(date),
            ..entry("/x")
        };
        assert!(!expiring.expired(date));
        assert!(expiring.expired("2027-03-02".parse().unwrap()));
    }

    #[test]
    fn a_finding_is_accepted_only_when_every_failing_write_behind_it_matches() {
        let (mut report, _) = testdata::needs_mounts();
        let findings = crate::analyze::baseline::all_findings(&report);
        let mount = report.fix_mounts()[0].path.clone();
        let one = BaselineFinding::Mount(mount.clone());
        apply(&mut report, &findings, &[entry(&format!("{mount}/**"))]);
        assert_eq!(report.accepted.len(), 1, "{:?}", report.accepted);
        assert_eq!(report.accepted[0].finding, one);
        assert_eq!(report.accepted[0].reason, "because");
        // A glob that matches some of its writes only accepts nothing.
        let some = report
            .trace
            .writes
            .iter()
            .find(|w| w.would_fail == Some(true) && is_within(&w.path, &mount))
            .unwrap()
            .path
            .clone();
        let others =
            report.trace.writes.iter().filter(|w| {
                w.would_fail == Some(true) && is_within(&w.path, &mount) && w.path != some
            });
        let others = others.count();
        // A glob that names the mount but none of its writes accepts nothing either.
        let parent = mount
            .rsplit_once('/')
            .map_or("/", |(p, _)| if p.is_empty() { "/" } else { p });
        apply(
            &mut report,
            &findings,
            &[entry(&format!("{}/*", parent.trim_end_matches('/')))],
        );
        assert_eq!(report.accepted, [], "{mount}");
        apply(&mut report, &findings, &[entry(&some)]);
        match others {
            0 => assert_eq!(report.accepted.len(), 1),
            _ => assert_eq!(report.accepted, []),
        }
    }
}
