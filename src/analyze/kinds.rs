//! What each write is for, from its path, phase and place: a proposal the fix acts on (state goes
//! on a volume, never a tmpfs) that no read-only run can overrule, because an app that loses its
//! data at every restart still starts.

use super::remedies::glob;
use crate::model::{Change, FileType, Phase, Write, WriteKind};

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

/// The kind of `w`, or None when nothing tells. A write into a declared VOLUME, or a file saved
/// at shutdown, is state unless its path says it is a log, runtime, temp or cache file.
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
    match by_path {
        Some(kind) => Some(kind),
        None if w.volume || saved_at_shutdown => Some(WriteKind::State),
        None => None,
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
}
