//! What each write is for, from its path, phase and place, and from what a restart did with it:
//! a proposal the fix acts on (state goes on a volume, never a tmpfs) that no read-only run can
//! overrule, because an app that loses its data at every restart still starts.

use super::remedies::glob;
use crate::model::{Change, FileType, Phase, Restart, Write, WriteKind};

/// Tried in order; the first kind with a matching glob wins.
const RULES: &[(WriteKind, &[&str])] = &[
    (
        WriteKind::Log,
        &["**/*.log", "**/*.log.*", "/var/log/**", "**/logs/**"],
    ),
    (
        WriteKind::Runtime,
        &[
            "**/*.pid",
            "**/*.lock",
            "**/.lock",
            "**/*.sock",
            "**/*.ctl",
            "**/.s.PGSQL.*",
            "/run/**",
            "/var/run/**",
            "/var/lock/**",
        ],
    ),
    (
        WriteKind::Temp,
        &[
            "/tmp/**",
            "/var/tmp/**",
            "/dev/shm/**",
            "**/.tmp*",
            "**/*.tmp",
            // nginx's request-body and proxy buffers, where Debian builds put them.
            "/var/lib/nginx/**",
        ],
    ),
    (
        WriteKind::Cache,
        &[
            "**/__pycache__/**",
            "**/*.pyc",
            "**/.cache/**",
            "/var/cache/**",
            "**/cache/**",
        ],
    ),
    (
        WriteKind::State,
        &[
            "**/*.db",
            "**/*.db-wal",
            "**/*.sqlite",
            "**/*.sqlite3",
            "**/*.mdb",
            "**/*.rdb",
            "**/*.aof",
            "**/appendonlydir/**",
            "/var/lib/postgresql/**",
            "/var/lib/mysql/**",
            "/var/lib/redis/**",
            "/var/lib/mosquitto/**",
            "/var/lib/rabbitmq/**",
            "/var/lib/prometheus/**",
            "/prometheus/**",
            "/var/lib/influxdb*/**",
            "**/uploads/**",
        ],
    ),
];

/// The kind of `w`, or None when nothing tells. A write into a declared VOLUME, a file saved at
/// shutdown, or a file the first start made and the second went on with rather than making it
/// anew (a key generated once), is state unless its path says it is a log, runtime, temp or
/// cache file; a file the second start made anew is scratch.
pub fn classify(w: &Write) -> Option<WriteKind> {
    if w.change == Change::Transient {
        return Some(WriteKind::Temp);
    }
    if w.file_type == FileType::Other {
        // A socket or a fifo.
        return Some(WriteKind::Runtime);
    }
    let by_path = RULES
        .iter()
        .find(|(_, globs)| globs.iter().any(|g| glob(g, &w.path)))
        .map(|(kind, _)| *kind);
    let saved_at_shutdown = w.phase == Phase::Shutdown
        && matches!(w.change, Change::Created | Change::Modified)
        && w.file_type != FileType::Dir;
    match (by_path, restarted(w)) {
        (Some(kind), _) => Some(kind),
        _ if w.volume || saved_at_shutdown => Some(WriteKind::State),
        (None, Some(r)) if r.carried_over() => Some(WriteKind::State),
        (None, Some(Restart::Rewritten)) => Some(WriteKind::Temp),
        (None, _) => None,
    }
}

/// What a restart did with `w`, where that tells what it is for: a file written at startup or
/// by a probe, which the second start repeats. It had no idle, and its shutdown says nothing
/// of what the first one saved.
fn restarted(w: &Write) -> Option<Restart> {
    let repeated = matches!(w.phase, Phase::Startup | Phase::Probe | Phase::Healthcheck);
    let file = matches!(w.file_type, FileType::File | FileType::Symlink);
    let written = matches!(w.change, Change::Created | Change::Modified);
    w.restart.filter(|_| repeated && file && written)
}

/// Why `w` has its kind where a restart told it, for the report's line of the write: data to
/// keep, a cache that costs time only, or scratch made anew at every start.
pub fn restart_note(w: &Write) -> Option<String> {
    let r = restarted(w)?;
    let again = match r {
        Restart::Reused => "read it again",
        Restart::Kept => "found it and did not make it anew",
        Restart::Updated => "read and updated it",
        Restart::Rewritten | Restart::Deleted => "",
    };
    match (w.kind?, r) {
        (WriteKind::State, r) if r.carried_over() => Some(format!(
            "made at the first start, and a restart {again}: data the app keeps across \
             restarts, which a tmpfs loses at every restart"
        )),
        (WriteKind::Cache, r) if r.carried_over() => Some(format!(
            "a cache (a restart {again}): losing it costs time only"
        )),
        (WriteKind::Temp, Restart::Rewritten) => {
            Some("made anew at every start: scratch, nothing to keep".to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing::write;

    fn kind(path: &str) -> Option<WriteKind> {
        classify(&write(path))
    }

    #[test]
    fn paths_tell_logs_runtime_temp_cache_and_state() {
        assert_eq!(kind("/var/log/nginx/error.log"), Some(WriteKind::Log));
        assert_eq!(kind("/opt/app/logs/catalina.out"), Some(WriteKind::Log));
        assert_eq!(kind("/run/nginx.pid"), Some(WriteKind::Runtime));
        assert_eq!(kind("/app/.venv/.lock"), Some(WriteKind::Runtime));
        assert_eq!(
            kind("/home/app/.gunicorn/gunicorn.ctl"),
            Some(WriteKind::Runtime)
        );
        assert_eq!(kind("/tmp/x"), Some(WriteKind::Temp));
        assert_eq!(kind("/var/lib/nginx/body/0001"), Some(WriteKind::Temp));
        assert_eq!(kind("/app/app/__pycache__/a.pyc"), Some(WriteKind::Cache));
        assert_eq!(
            kind("/var/lib/mosquitto/mosquitto.db"),
            Some(WriteKind::State)
        );
        assert_eq!(kind("/data/app.sqlite3"), Some(WriteKind::State));
        assert_eq!(kind("/etc/app/settings.conf"), None);
    }

    #[test]
    fn a_file_saved_at_shutdown_or_in_a_volume_is_state_unless_its_path_says_otherwise() {
        let mut saved = write("/srv/store/queue.bin");
        saved.phase = Phase::Shutdown;
        assert_eq!(classify(&saved), Some(WriteKind::State));
        let mut pid = write("/srv/store/app.pid");
        pid.phase = Phase::Shutdown;
        assert_eq!(classify(&pid), Some(WriteKind::Runtime));
        let mut in_volume = write("/data/blob");
        in_volume.volume = true;
        assert_eq!(classify(&in_volume), Some(WriteKind::State));
        let mut gone = write("/srv/store/queue.bin");
        gone.phase = Phase::Shutdown;
        gone.change = Change::Transient;
        assert_eq!(classify(&gone), Some(WriteKind::Temp));
    }

    /// Judged as `analyze` does: the kind, then the note that says why.
    fn judged(path: &str, restart: Restart) -> (Option<WriteKind>, Option<String>) {
        let mut w = write(path);
        w.restart = Some(restart);
        w.kind = classify(&w);
        (w.kind, restart_note(&w))
    }

    #[test]
    fn a_file_the_second_start_goes_on_with_is_state_and_one_it_makes_anew_is_scratch() {
        for r in [Restart::Reused, Restart::Kept, Restart::Updated] {
            let (kind, note) = judged("/home/app/.secret/signing.key", r);
            assert_eq!(kind, Some(WriteKind::State), "{r:?}");
            let note = note.unwrap();
            assert!(
                note.contains("data the app keeps across restarts"),
                "{note}"
            );
            assert!(note.contains("a tmpfs loses"), "{note}");
        }
        let (kind, note) = judged("/srv/app/started.at", Restart::Rewritten);
        assert_eq!(kind, Some(WriteKind::Temp));
        assert!(note.unwrap().contains("scratch"));
        // A path that tells wins: a pid file found again is a stale one, a log is a log.
        assert_eq!(
            judged("/run/app.pid", Restart::Kept).0,
            Some(WriteKind::Runtime)
        );
        assert_eq!(
            judged("/app/logs/boot.log", Restart::Kept).0,
            Some(WriteKind::Log)
        );
        let (kind, note) = judged("/home/app/.cache/app/index", Restart::Reused);
        assert_eq!(kind, Some(WriteKind::Cache));
        assert!(note.unwrap().contains("losing it costs time only"));
        // Removed at the restart: nothing tells.
        assert_eq!(judged("/srv/app/boot.id", Restart::Deleted), (None, None));
    }

    #[test]
    fn only_what_the_second_start_repeats_is_judged_by_it() {
        // The restart has no idle: a file the first run wrote while idle was not due yet.
        let mut idle = write("/srv/app/report.txt");
        idle.phase = Phase::Idle;
        idle.restart = Some(Restart::Kept);
        assert_eq!(classify(&idle), None);
        // A directory found again is one `mkdir -p` leaves alone: no data of its own.
        let mut dir = write("/srv/app/spool");
        dir.file_type = FileType::Dir;
        dir.restart = Some(Restart::Kept);
        assert_eq!(classify(&dir), None);
        // Without a restart, as in reports made before it.
        assert_eq!(classify(&write("/home/app/.secret/signing.key")), None);
    }
}
