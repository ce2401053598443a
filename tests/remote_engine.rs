//! An engine on another host, as CI's `docker:dind` or a build VM is: rofs-audit runs in its own
//! network namespace (a host of its own, joined to this one by a veth pair) and reaches this
//! machine's engine over TCP (socat) and over TLS with client certificates, as `dockerd
//! --tlsverify` serves it (tests/remote/tls-proxy.py; certificates made here with openssl). The ports the engine publishes are on its 127.0.0.1, which
//! the client cannot reach: the probes must go from inside the container's network.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const IMAGE: &str = "rofs-audit-real/nginx:2";

/// The client's host: a network namespace with a veth to this one, and the engine's socket
/// served on this side's address over TCP and over TLS.
struct RemoteHost {
    netns: String,
    engine_ip: String,
    forwarders: Vec<Child>,
    certs: tempfile::TempDir,
}

const TCP_PORT: u16 = 23750;
const TLS_PORT: u16 = 23760;

impl RemoteHost {
    fn start() -> RemoteHost {
        // One namespace and subnet per test: a leftover of a killed run is replaced.
        static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nth = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let n = (std::process::id() + nth * 7) % 200 + 20;
        let netns = format!("rofs-audit-client-{n}");
        let (host_if, client_if) = (format!("rofsh{n}"), format!("rofsc{n}"));
        let (engine_ip, client_ip) = (format!("10.231.{n}.1"), format!("10.231.{n}.2"));
        for leftover in [["netns", "del", &netns], ["link", "del", &host_if]] {
            let _ = Command::new("ip")
                .args(leftover)
                .stderr(Stdio::null())
                .status();
        }
        for args in [
            vec!["netns", "add", &netns],
            vec![
                "link", "add", &host_if, "type", "veth", "peer", "name", &client_if,
            ],
            vec!["link", "set", &client_if, "netns", &netns],
            vec!["addr", "add", &format!("{engine_ip}/24"), "dev", &host_if],
            vec!["link", "set", &host_if, "up"],
            vec![
                "netns",
                "exec",
                &netns,
                "ip",
                "addr",
                "add",
                &format!("{client_ip}/24"),
                "dev",
                &client_if,
            ],
            vec![
                "netns", "exec", &netns, "ip", "link", "set", &client_if, "up",
            ],
            vec!["netns", "exec", &netns, "ip", "link", "set", "lo", "up"],
        ] {
            ok(Command::new("ip").args(&args), "ip");
        }
        let certs = common::temp_dir("rofs-audit-tls");
        make_certs(certs.path(), &engine_ip);
        let dir = certs.path();
        let socket = "/var/run/docker.sock";
        let tcp = Command::new("socat")
            .arg(format!(
                "TCP-LISTEN:{TCP_PORT},bind={engine_ip},fork,reuseaddr"
            ))
            .arg(format!("UNIX-CONNECT:{socket}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start socat");
        let tls = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/remote/tls-proxy.py"))
            .arg(&engine_ip)
            .arg(TLS_PORT.to_string())
            .args(["server.pem", "server-key.pem", "ca.pem"].map(|f| dir.join(f)))
            .arg(socket)
            .stdout(Stdio::null())
            .spawn()
            .expect("start tests/remote/tls-proxy.py");
        let forwarders = vec![tcp, tls];
        let host = RemoteHost {
            netns,
            engine_ip,
            forwarders,
            certs,
        };
        host.wait_until_listening();
        host
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in [TCP_PORT, TLS_PORT] {
            let addr = format!("{}:{port}", self.engine_ip);
            while std::net::TcpStream::connect(&addr).is_err() {
                assert!(Instant::now() < deadline, "socat never listened on {addr}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn cert_dir(&self) -> PathBuf {
        self.certs.path().join("client")
    }

    /// rofs-audit in the client's namespace, with `env` as its engine settings.
    fn audit(&self, env: &[(&str, String)], args: &[&str]) -> Output {
        // Another host does not see the engine's storage either: a mount namespace of the
        // client's own hides it under an empty tmpfs, then execs rofs-audit.
        let root = common::docker_ok(&["info", "--format", "{{.DockerRootDir}}"]);
        let hide = format!("mount -t tmpfs tmpfs {} && exec \"$0\" \"$@\"", root.trim());
        let mut command = Command::new("ip");
        command
            .args([
                "netns",
                "exec",
                &self.netns,
                "unshare",
                "--mount",
                "sh",
                "-c",
                &hide,
            ])
            .arg(env!("CARGO_BIN_EXE_rofs-audit"))
            .args(args)
            // Nothing of this machine's may leak into the client's view of the engine.
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env("DOCKER_CONFIG", self.certs.path().join("no-config"));
        for (k, v) in env {
            command.env(k, v);
        }
        let child = (command.stdout(Stdio::piped()).stderr(Stdio::piped()))
            .spawn()
            .expect("run rofs-audit in the client's namespace");
        // `ip netns exec`, unshare and sh each exec the next: the pid is the one rofs-audit's
        // labels carry.
        let pid = child.id();
        let output = child.wait_with_output().expect("wait for rofs-audit");
        let left = common::leftovers(&format!("dev.rofs-audit.pid={pid}"));
        assert!(left.is_empty(), "rofs-audit {args:?} left {left:?} behind");
        output
    }

    fn tcp(&self) -> Vec<(&'static str, String)> {
        vec![(
            "DOCKER_HOST",
            format!("tcp://{}:{TCP_PORT}", self.engine_ip),
        )]
    }

    fn tls(&self, certs: &Path) -> Vec<(&'static str, String)> {
        vec![
            (
                "DOCKER_HOST",
                format!("tcp://{}:{TLS_PORT}", self.engine_ip),
            ),
            ("DOCKER_TLS_VERIFY", "1".to_string()),
            ("DOCKER_CERT_PATH", certs.display().to_string()),
        ]
    }
}

impl Drop for RemoteHost {
    fn drop(&mut self) {
        for child in &mut self.forwarders {
            let _ = child.kill();
            let _ = child.wait();
        }
        // The veth goes with the namespace.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

fn ok(command: &mut Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} {:?} failed: {}",
        command.get_args().collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for `ip` and a client certificate, as `docker` expects them:
/// the client's ca.pem, cert.pem and key.pem in client/.
fn make_certs(dir: &Path, ip: &str) {
    let client = dir.join("client");
    std::fs::create_dir_all(&client).unwrap();
    let run = |args: &[&str]| {
        ok(
            Command::new("openssl").current_dir(dir).args(args),
            "openssl",
        )
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test CA",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
    ]);
    for (name, extension) in [
        (
            "server",
            format!("subjectAltName=IP:{ip}\nextendedKeyUsage=serverAuth"),
        ),
        ("client", "extendedKeyUsage=clientAuth".to_string()),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), extension).unwrap();
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}-key.pem"),
            "-out",
            &format!("{name}.csr"),
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ]);
    }
    for (from, to) in [
        ("ca.pem", "ca.pem"),
        ("client.pem", "cert.pem"),
        ("client-key.pem", "key.pem"),
    ] {
        std::fs::copy(dir.join(from), client.join(to)).unwrap();
    }
}

fn json(out: &Output, what: &str) -> Value {
    let code = out.status.code().unwrap_or(-1);
    assert!(
        [0, 1].contains(&code),
        "{what} exited {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what} prints JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// What two audits must agree on: the verdict, whether the proof passed, and the mounts.
fn outcome(report: &Value) -> (Value, Value, Vec<String>) {
    let mounts = (report["mounts"].as_array().into_iter().flatten())
        .map(|m| format!("{} {}", m["kind"], m["path"]))
        .collect();
    (
        report["verdict"].clone(),
        report["verification"]["passed"].clone(),
        mounts,
    )
}

#[test]
fn an_engine_on_another_host_is_audited_over_tcp_and_tls_as_the_local_one() {
    if !common::ready(common::Need::Remote) {
        return;
    }
    let args = ["audit", IMAGE, "--profile", "docker", "--format", "json"];
    // The client's engine keeps its storage on another machine: api mode. Here, the same mode,
    // with the engine's own socket and published ports.
    let local = common::run_json(
        &["audit", IMAGE, "--profile", "docker", "--mode", "api"],
        &[0, 1],
    );
    let host = RemoteHost::start();

    // The engine's 127.0.0.1 is not the client's: a port published there cannot be probed.
    let unreachable = host.audit(&host.tcp(), &["trace", IMAGE, "--format", "json"]);
    let trace = json(&unreachable, "trace over TCP");
    let reached = trace["run"]["reached"].as_str().unwrap_or_default();
    assert!(
        reached.starts_with("from inside the container's network")
            && reached.contains(&format!("tcp://{}:{TCP_PORT}", host.engine_ip)),
        "{reached:?}"
    );

    // `docker context use` as the CLI writes it: no DOCKER_HOST, the config's current context.
    let config = host.certs.path().join("docker-config");
    let config_dir = config.display().to_string();
    let engine = format!("host=tcp://{}:{TCP_PORT}", host.engine_ip);
    for args in [
        vec![
            "--config",
            &config_dir,
            "context",
            "create",
            "remote",
            "--docker",
            &engine,
        ],
        vec!["--config", &config_dir, "context", "use", "remote"],
    ] {
        assert!(common::docker(&args).status.success(), "docker {args:?}");
    }
    let traced = host.audit(
        &[("DOCKER_CONFIG", config_dir.clone())],
        &["trace", IMAGE, "--format", "json"],
    );
    let reached = json(&traced, "trace through a docker context")["run"]["reached"].clone();
    assert!(
        (reached.as_str().unwrap_or_default())
            .contains(&format!("tcp://{}:{TCP_PORT}", host.engine_ip)),
        "{reached}"
    );

    let certs = host.cert_dir();
    for (name, env) in [("TCP", host.tcp()), ("TLS", host.tls(&certs))] {
        let out = host.audit(&env, &args);
        let report = json(&out, &format!("audit over {name}"));
        assert_eq!(
            outcome(&report),
            outcome(&local),
            "over {name} the audit differs from the local one; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(report["tracing"]["mode"], "api", "{name}");
    }
}

#[test]
fn a_tls_engine_the_client_cannot_trust_is_a_one_line_error_naming_it() {
    if !common::ready(common::Need::Remote) {
        return;
    }
    let host = RemoteHost::start();
    // A CA of its own, which signed neither the engine's certificate nor the client's.
    let stranger = common::temp_dir("rofs-audit-tls-stranger");
    make_certs(stranger.path(), "10.0.0.1");
    let out = host.audit(
        &host.tls(&stranger.path().join("client")),
        &["audit", IMAGE],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("tcp://{}:{TLS_PORT}", host.engine_ip))
            && stderr.contains("DOCKER_HOST")
            && stderr.to_lowercase().contains("certificate"),
        "{stderr}"
    );
}

/// An sshd on the engine's side of the veth, and what the client needs to use it as
/// `ssh://root@engine`: a key, and an `ssh` first on PATH that reads a config of this test's
/// (ssh takes its config from the user's home in /etc/passwd, never from $HOME).
struct Sshd {
    daemon: Child,
    dir: tempfile::TempDir,
}

const SSH_PORT: u16 = 23722;

impl Sshd {
    fn start(host: &RemoteHost) -> Sshd {
        let dir = common::temp_dir("rofs-audit-ssh");
        let d = dir.path();
        for key in ["host_key", "client_key"] {
            ok(
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                    .arg(d.join(key)),
                "ssh-keygen",
            );
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let config = format!(
            "ListenAddress {ip}:{SSH_PORT}\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
             PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile {d}/sshd.pid\n",
            ip = host.engine_ip,
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let daemon = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stderr(Stdio::null())
            .spawn()
            .expect("start sshd");
        let client = format!(
            "Host engine\n  HostName {ip}\n  Port {SSH_PORT}\n  User root\n  IdentityFile {d}/client_key\n  \
             StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n",
            ip = host.engine_ip,
            d = d.display()
        );
        std::fs::write(d.join("ssh_config"), client).unwrap();
        let bin = d.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let wrapper = bin.join("ssh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/ssh -F {}/ssh_config \"$@\"\n",
                d.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let addr = format!("{}:{SSH_PORT}", host.engine_ip);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "sshd never listened on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd { daemon, dir }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let path = std::env::var("PATH").unwrap_or_default();
        vec![
            ("DOCKER_HOST", "ssh://root@engine".to_string()),
            (
                "PATH",
                format!("{}:{path}", self.dir.path().join("bin").display()),
            ),
        ]
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

#[test]
fn an_engine_over_ssh_is_reached_as_the_docker_cli_reaches_it() {
    if !common::ready(common::Need::Remote) {
        return;
    }
    let host = RemoteHost::start();
    let sshd = Sshd::start(&host);
    // `docker system dial-stdio` on the engine's host, as `docker -H ssh://` runs it.
    let out = host.audit(&sshd.env(), &["trace", IMAGE, "--format", "json"]);
    let trace = json(&out, "trace over ssh");
    let reached = trace["run"]["reached"].as_str().unwrap_or_default();
    assert!(
        reached.starts_with("from inside the container's network")
            && reached.contains("ssh://root@engine"),
        "{reached:?}"
    );
    assert!(
        trace["writes"].as_array().is_some_and(|w| !w.is_empty()),
        "{trace:#}"
    );
}
