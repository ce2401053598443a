//! Root-cause remedies: a catalogue in data (remedies.yaml, extensible with --remedies FILE)
//! matched against the image's command, environment, user and failing writes.

use std::collections::HashSet;

use anyhow::{anyhow, Result};
use serde::Deserialize;

use crate::model::{Remedy, Trace, Write};

const BUILTIN: &str = include_str!("remedies.yaml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    pub title: String,
    pub fix: String,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub env_unset: Vec<String>,
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Clone)]
pub struct Catalogue(Vec<Entry>);

/// The built-in catalogue as shipped: `rofs-audit remedies` prints it, the shape for --remedies.
pub fn builtin_text() -> &'static str {
    BUILTIN
}

impl Catalogue {
    pub fn builtin() -> Catalogue {
        Catalogue(serde_yaml_ng::from_str(BUILTIN).expect("the built-in remedies parse"))
    }

    /// The built-in catalogue plus entries from `path`; an entry with a built-in id replaces it.
    pub fn with_file(path: &std::path::Path) -> Result<Catalogue> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow!(
                "cannot read {}: {e}; check the path given to --remedies",
                path.display()
            )
        })?;
        let source = path.display().to_string();
        let extra: Vec<Entry> = serde_yaml_ng::from_str(&text).map_err(|e| {
            let fix = "`rofs-audit remedies` prints the built-in catalogue, the shape to follow";
            crate::input::yaml_error(&source, &e, fix)
        })?;
        let mut all = Catalogue::builtin().0;
        all.retain(|b| !extra.iter().any(|e| e.id == b.id));
        all.extend(extra);
        Ok(Catalogue(all))
    }

    pub fn matches(&self, trace: &Trace, failing: &[&Write]) -> Vec<Remedy> {
        let home = home_of(trace);
        let words: Vec<&str> = trace
            .run
            .entrypoint
            .iter()
            .chain(&trace.run.cmd)
            .map(String::as_str)
            .collect();
        let env: Vec<&str> = trace
            .image
            .env_names
            .iter()
            .chain(&trace.run.env_names)
            .map(String::as_str)
            .collect();
        let root = trace.run.runs_as_root();
        self.0
            .iter()
            .filter_map(|entry| {
                let command_ok =
                    entry.command.is_empty() || contains_in_order(&words, &entry.command);
                let env_ok = entry.env_unset.iter().all(|v| !env.contains(&v.as_str()));
                let user_ok = entry.user.as_deref() != Some("root") || root;
                if !(command_ok && env_ok && user_ok) {
                    return None;
                }
                let globs: Vec<String> =
                    entry.paths.iter().map(|g| expand_home(g, &home)).collect();
                // A path written more than once (created, then modified; in two phases) is
                // listed once, where it was first written.
                let mut seen = HashSet::new();
                let paths: Vec<String> = failing
                    .iter()
                    .filter(|w| globs.iter().any(|g| glob(g, &w.path)))
                    .filter(|w| seen.insert(w.path.as_str()))
                    .map(|w| w.path.clone())
                    .collect();
                // A remedy found by its command alone still applies when its writes went unseen.
                let applies = if entry.command.is_empty() {
                    !paths.is_empty()
                } else {
                    !failing.is_empty()
                };
                applies.then(|| Remedy {
                    id: entry.id.clone(),
                    title: entry.title.clone(),
                    fix: entry.fix.clone(),
                    paths,
                })
            })
            .collect()
    }
}

/// The app's HOME: root's for root, else the home the writes show (`/home/NAME/...`).
fn home_of(trace: &Trace) -> String {
    if trace.run.runs_as_root() {
        return "/root".to_string();
    }
    trace
        .writes
        .iter()
        .find_map(|w| {
            let rest = w.path.strip_prefix("/home/")?;
            Some(format!("/home/{}", rest.split('/').next()?))
        })
        .unwrap_or_else(|| format!("/home/{}", trace.run.user_name()))
}

fn expand_home(glob: &str, home: &str) -> String {
    match glob.strip_prefix('~') {
        Some(rest) => format!("{home}{rest}"),
        None => glob.to_string(),
    }
}

/// The words of `needle` appear in `haystack` in order, one after the other. Matches on the
/// last path component, so `/usr/local/bin/uv run` is `uv run`.
fn contains_in_order(haystack: &[&str], needle: &[String]) -> bool {
    let base = |w: &str| w.rsplit('/').next().unwrap_or(w).to_string();
    haystack
        .windows(needle.len())
        .any(|win| win.iter().zip(needle).all(|(h, n)| base(h) == *n))
}

/// Glob match on paths: `*` and `?` stay within one component, `**` spans any number of them.
pub fn glob(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p {
            [] => s.is_empty(),
            [b'*', b'*', rest @ ..] => {
                let rest = rest.strip_prefix(b"/").unwrap_or(rest);
                if rest.is_empty() {
                    return true;
                }
                (0..=s.len()).any(|i| (i == 0 || s[i - 1] == b'/') && go(rest, &s[i..]))
            }
            [b'*', rest @ ..] => (0..=s.len())
                .take_while(|&i| i == 0 || s[i - 1] != b'/')
                .any(|i| go(rest, &s[i..])),
            [b'?', rest @ ..] => s.first().is_some_and(|&c| c != b'/') && go(rest, &s[1..]),
            [c, rest @ ..] => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    go(pattern.as_bytes(), path.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_within_and_across_components() {
        assert!(glob("**/__pycache__/**", "/app/app/__pycache__/x.pyc"));
        assert!(glob("/tmp/uv-*", "/tmp/uv-1c83.lock"));
        assert!(!glob("/tmp/uv-*", "/tmp/uv-1/x"));
        assert!(glob("/home/a/.cache/uv/**", "/home/a/.cache/uv/.lock"));
        assert!(glob("**/*.log", "/var/app/x.log"));
        assert!(!glob("/etc/**", "/etcetera/x"));
    }

    #[test]
    fn commands_match_by_words_in_order() {
        let cmd = ["/usr/local/bin/uv", "run", "python", "-m", "app"];
        assert!(contains_in_order(&cmd, &["uv".into(), "run".into()]));
        assert!(!contains_in_order(&cmd, &["poetry".into(), "run".into()]));
    }

    #[test]
    fn the_builtin_catalogue_parses_and_ids_are_unique() {
        let c = Catalogue::builtin();
        let mut ids: Vec<&str> = c.0.iter().map(|e| e.id.as_str()).collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert!(n >= 20);
    }

    /// A trace of an image run as `user` with `cmd`, `env` set, and a failing write at each of
    /// `paths` (read from JSON, so that fields added to the model later keep their defaults).
    fn trace(user: &str, cmd: &[&str], env: &[&str], paths: &[&str]) -> Trace {
        let writes: Vec<_> = paths
            .iter()
            .map(|p| {
                serde_json::json!({
                    "path": p, "change": "created", "file_type": "file", "bytes": 1,
                    "mode": "0644", "uid": 1000, "gid": 1000, "phase": "startup",
                    "volume": false, "would_fail": true,
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "schema_version": 1,
            "image": {
                "reference": "app:test", "id": "sha256:0", "user": user, "entrypoint": [],
                "cmd": cmd, "exposed_ports": [], "volumes": [], "workdir": "/", "env_names": env,
            },
            "run": { "user": user, "entrypoint": [], "cmd": cmd, "port": null, "env_names": [] },
            "tracing": { "mode": "overlay", "blind_spots": [] },
            "phases": [], "probes": [], "writes": writes, "logs": [], "startup_ms": 0,
            "exit": { "code": 0, "signal": null },
        }))
        .expect("a valid trace")
    }

    /// The remedies the built-in catalogue finds for `trace`, with the paths each lists.
    fn remedies(trace: &Trace) -> Vec<(String, Vec<String>)> {
        let failing: Vec<&Write> = trace.writes.iter().collect();
        Catalogue::builtin()
            .matches(trace, &failing)
            .into_iter()
            .map(|r| (r.id, r.paths))
            .collect()
    }

    /// The paths remedy `id` lists for `trace`; None when it does not apply.
    fn listed(trace: &Trace, id: &str) -> Option<Vec<String>> {
        remedies(trace)
            .into_iter()
            .find(|(i, _)| i == id)
            .map(|(_, paths)| paths)
    }

    fn fix_of(id: &str) -> String {
        let entry = Catalogue::builtin().0.into_iter().find(|e| e.id == id);
        entry.unwrap_or_else(|| panic!("no remedy {id}")).fix
    }

    #[test]
    fn a_remedy_lists_each_path_once() {
        // The trace records a file once when created and again when modified, and once per phase.
        let t = trace(
            "appuser",
            &["python", "-m", "app"],
            &[],
            &[
                "/app/app/__pycache__/x.cpython-311.pyc",
                "/app/app/__pycache__/y.cpython-311.pyc",
                "/app/app/__pycache__/x.cpython-311.pyc",
                "/app/app/__pycache__/y.cpython-311.pyc",
                "/app/app/__pycache__/x.cpython-311.pyc",
            ],
        );
        assert_eq!(
            listed(&t, "python-bytecode").unwrap(),
            [
                "/app/app/__pycache__/x.cpython-311.pyc",
                "/app/app/__pycache__/y.cpython-311.pyc",
            ]
        );
    }

    #[test]
    fn gunicorn_control_socket_under_home_or_runtime_dir() {
        let cmd = ["gunicorn", "-b", "0.0.0.0:8000", "app:app"];
        let t = trace(
            "appuser",
            &cmd,
            &[],
            &[
                "/home/appuser/.gunicorn",
                "/home/appuser/.gunicorn/gunicorn.ctl",
            ],
        );
        assert_eq!(
            listed(&t, "gunicorn-control-socket").unwrap(),
            [
                "/home/appuser/.gunicorn",
                "/home/appuser/.gunicorn/gunicorn.ctl"
            ]
        );
        // gunicorn's other remedy applies by its command, but does not claim the socket.
        assert_eq!(
            listed(&t, "gunicorn-worker-tmp").unwrap(),
            Vec::<String>::new()
        );
        let root = trace("", &cmd, &[], &["/root/.gunicorn/gunicorn.ctl"]);
        assert!(listed(&root, "gunicorn-control-socket").is_some());
        let xdg = trace("1000", &cmd, &[], &["/run/user/1000/gunicorn.ctl"]);
        assert!(listed(&xdg, "gunicorn-control-socket").is_some());
        // gunicorn < 25 writes no socket: no remedy for it.
        let old = trace("appuser", &cmd, &[], &["/tmp/wgunicorn-k2j3h4"]);
        assert!(listed(&old, "gunicorn-control-socket").is_none());
    }

    #[test]
    fn gunicorn_worker_tmp_lists_its_own_files_only() {
        let t = trace(
            "appuser",
            &["/app/.venv/bin/gunicorn", "app:app"],
            &[],
            &[
                "/tmp/wgunicorn-k2j3h4",
                "/tmp/report.csv",
                "/var/tmp/wgunicorn-abc",
            ],
        );
        assert_eq!(
            listed(&t, "gunicorn-worker-tmp").unwrap(),
            ["/tmp/wgunicorn-k2j3h4", "/var/tmp/wgunicorn-abc"]
        );
        let not_gunicorn = trace("appuser", &["uvicorn", "app:app"], &[], &["/tmp/x"]);
        assert!(listed(&not_gunicorn, "gunicorn-worker-tmp").is_none());
    }

    #[test]
    fn a_generated_key_or_secret_is_told_to_come_from_outside() {
        let t = trace(
            "1000",
            &["/app/server"],
            &[],
            &[
                "/home/app/.secret/signing.key",
                "/data/jwt_secret",
                "/app/config/jwks.jwk",
                "/var/run/app.pid",
            ],
        );
        assert_eq!(
            listed(&t, "generated-secret").unwrap(),
            [
                "/home/app/.secret/signing.key",
                "/data/jwt_secret",
                "/app/config/jwks.jwk"
            ]
        );
        assert!(fix_of("generated-secret").contains("env var"));
    }

    #[test]
    fn jvm_hsperfdata() {
        let t = trace(
            "tomcat",
            &["java", "-jar", "/app/app.jar"],
            &[],
            &["/tmp/hsperfdata_tomcat", "/tmp/hsperfdata_tomcat/1"],
        );
        assert_eq!(
            listed(&t, "java-hsperfdata").unwrap(),
            ["/tmp/hsperfdata_tomcat", "/tmp/hsperfdata_tomcat/1"]
        );
        let fix = fix_of("java-hsperfdata");
        assert!(fix.contains("-XX:-UsePerfData") && fix.contains("JAVA_TOOL_OPTIONS"));
        assert!(listed(
            &trace("", &[], &[], &["/tmp/hsperfdata.txt"]),
            "java-hsperfdata"
        )
        .is_none());
    }

    #[test]
    fn tomcat_work_dir_and_unpacked_wars() {
        let official = trace(
            "",
            &["catalina.sh", "run"],
            &[],
            &[
                "/usr/local/tomcat/webapps/ROOT/index.jsp",
                "/usr/local/tomcat/webapps/ROOT/WEB-INF/web.xml",
                "/usr/local/tomcat/work/Catalina/localhost/ROOT/org/apache/jsp/index_jsp.class",
            ],
        );
        assert_eq!(
            listed(&official, "tomcat-work-and-unpacked-wars")
                .unwrap()
                .len(),
            3
        );
        let debian = trace(
            "tomcat",
            &["/usr/libexec/tomcat10/tomcat-start.sh"],
            &[],
            &[
                "/var/cache/tomcat10/Catalina/localhost/app/org/apache/jsp/index_jsp.java",
                "/var/lib/tomcat10/webapps/app/META-INF/MANIFEST.MF",
                "/var/lib/tomcat10/work/Catalina/localhost/app/SESSIONS.ser",
            ],
        );
        assert_eq!(
            listed(&debian, "tomcat-work-and-unpacked-wars")
                .unwrap()
                .len(),
            3
        );
        let other = trace("", &[], &[], &["/srv/work/cache/x", "/app/webapps/x"]);
        assert!(listed(&other, "tomcat-work-and-unpacked-wars").is_none());
    }

    #[test]
    fn apache2ctl_run_and_lock_dirs() {
        // What `apache2ctl -D FOREGROUND` does on Debian: mkdir -p the run dir, then mktemp -d
        // beside the socks and lock dirs and rename them into place.
        let t = trace(
            "",
            &["apache2ctl", "-D", "FOREGROUND"],
            &[],
            &[
                "/run/apache2",
                "/run/apache2/socks.Hq3kR8sZ1p",
                "/run/apache2/socks",
                "/run/lock/apache2.X7bN2mQ9aL",
                "/run/lock/apache2",
                "/run/apache2/apache2.pid",
                "/var/lock/apache2/x",
                "/var/run/apache2/apache2.pid",
            ],
        );
        assert_eq!(listed(&t, "apache2ctl-run-and-lock-dirs").unwrap().len(), 8);
        let fix = fix_of("apache2ctl-run-and-lock-dirs");
        assert!(fix.contains("APACHE_LOCK_DIR") && fix.contains("/etc/apache2/envvars"));
        let other = trace("", &[], &[], &["/run/lock/other", "/run/nginx.pid"]);
        assert!(listed(&other, "apache2ctl-run-and-lock-dirs").is_none());
    }

    #[test]
    fn broker_and_tsdb_data_want_a_volume() {
        let cases: [(&str, &[&str]); 9] = [
            (
                "mosquitto-persistence",
                &["/var/lib/mosquitto/mosquitto.db"],
            ),
            (
                "mosquitto-persistence",
                &[
                    "/mosquitto/data/mosquitto.db.new",
                    "/mosquitto/data/mosquitto.db",
                ],
            ),
            (
                "rabbitmq-data",
                &[
                    "/var/lib/rabbitmq/.erlang.cookie",
                    "/var/lib/rabbitmq/mnesia/rabbit@3f2a/rabbit_durable_queue.DCD",
                ],
            ),
            (
                "tsdb-data",
                &["/prometheus/wal/00000000", "/prometheus/lock"],
            ),
            (
                "tsdb-data",
                &["/var/lib/prometheus/metrics2/queries.active"],
            ),
            ("tsdb-data", &["/var/lib/influxdb2/influxd.bolt"]),
            ("tsdb-data", &["/var/lib/influxdb/meta/meta.db"]),
            (
                "redis-persistence",
                &["/data/temp-17.rdb", "/data/dump.rdb"],
            ),
            (
                "redis-persistence",
                &[
                    "/var/lib/redis/dump.rdb",
                    "/data/appendonlydir/appendonly.aof.1.incr.aof",
                ],
            ),
        ];
        for (id, paths) in cases {
            let t = trace("999", &[], &[], paths);
            assert_eq!(listed(&t, id).unwrap(), paths, "{id}");
            let fix = fix_of(id);
            assert!(fix.contains("persistent volume") && fix.contains("never a tmpfs"));
        }
        let other = trace("999", &[], &[], &["/data/app.json", "/var/lib/app/x"]);
        for id in [
            "mosquitto-persistence",
            "rabbitmq-data",
            "tsdb-data",
            "redis-persistence",
        ] {
            assert!(listed(&other, id).is_none(), "{id}");
        }
    }

    #[test]
    fn nginx_pid_temp_and_logs() {
        let official = trace(
            "",
            &["nginx", "-g", "daemon off;"],
            &[],
            &[
                "/var/cache/nginx/client_temp",
                "/var/run/nginx.pid",
                "/var/log/nginx/error.log",
            ],
        );
        assert_eq!(listed(&official, "nginx-temp-and-pid").unwrap().len(), 3);
        let debian = trace(
            "www-data",
            &["nginx", "-g", "daemon off;"],
            &[],
            &[
                "/run/nginx.pid",
                "/var/lib/nginx/body",
                "/var/log/nginx/access.log",
            ],
        );
        assert_eq!(listed(&debian, "nginx-temp-and-pid").unwrap().len(), 3);
        let fix = fix_of("nginx-temp-and-pid");
        assert!(fix.contains("access_log /dev/stdout;") && fix.contains("error_log stderr;"));
    }

    #[test]
    fn matplotlib_config_cache_and_temp_dir() {
        let paths = [
            "/home/appuser/.config/matplotlib",
            "/home/appuser/.cache/matplotlib/fontlist-v390.json",
            "/tmp/matplotlib-q8k2x0ab",
            "/tmp/matplotlib-q8k2x0ab/fontlist-v390.json",
        ];
        let t = trace("appuser", &["python", "plot.py"], &[], &paths);
        assert_eq!(listed(&t, "matplotlib-config").unwrap(), paths);
        let set = trace("appuser", &["python", "plot.py"], &["MPLCONFIGDIR"], &paths);
        assert!(listed(&set, "matplotlib-config").is_none());
        let root = trace("", &[], &[], &["/root/.config/matplotlib/matplotlibrc"]);
        assert!(listed(&root, "matplotlib-config").is_some());
    }
}
