//! Shared by rofs-audit's integration tests (`mod common;`): the fixture
//! program (tests/fixture), `FROM scratch` images built around it, and thin
//! wrappers over the docker CLI.
//!
//! Every image carries the label `dev.rofs-audit.test=1`, and so does every
//! container created from one, which lets a test (or a person) find leftovers
//! with `docker ps -a --filter label=dev.rofs-audit.test=1`.

// Each test binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The label on every test image (and inherited by its containers).
pub const TEST_LABEL: &str = "dev.rofs-audit.test=1";

/// The fixture is linked statically for this target, so it runs in an image
/// that has no C library at all.
const FIXTURE_TARGET: &str = "x86_64-unknown-linux-gnu";

/// What an integration test needs from the machine beyond cargo.
pub enum Need {
    /// A Docker daemon that answers, and root: overlay tracing reads the engine's storage.
    Engine,
    /// The engine, and the images a script under tests/ builds (debootstrap, pip and the
    /// network for a cold build).
    Images(&'static str),
    /// The engine, and docker-compose (compose 1, Debian's package) to run a compose file.
    Compose,
    /// The engine, and kubectl, whose `kubectl kustomize` builds a kustomization offline.
    Kustomize,
    /// The engine, the real-software images, and what makes a second host of this one: `ip`
    /// (network namespaces), socat and python3 (the engine's socket over TCP and TLS),
    /// openssl, and ssh with sshd.
    Remote,
    /// The engine (whose images are copied into podman), and podman's Docker-compatible service
    /// at [`PODMAN_HOST`], as root (`podman system service`, see .ci/run).
    Podman,
}

/// Where the podman tests find podman's Docker-compatible service: ROFS_AUDIT_PODMAN_HOST, else
/// the socket rootful `podman system service` listens on by default.
pub fn podman_host() -> String {
    std::env::var("ROFS_AUDIT_PODMAN_HOST")
        .unwrap_or_else(|_| "unix:///run/podman/podman.sock".to_owned())
}

/// Whether the machine has what a test needs. Where it does not, the test says why on the real
/// stderr (libtest captures only the print macros, so this shows in every run) and returns
/// early. With ROFS_AUDIT_TEST_ALL set, as CI sets it, a missing need fails the test instead:
/// nothing may be skipped there.
pub fn ready(need: Need) -> bool {
    let missing = match need {
        Need::Engine => engine().err(),
        Need::Images(script) => engine().and_then(|()| images(script)).err(),
        Need::Compose => engine().and_then(|()| compose()).err(),
        Need::Kustomize => engine().and_then(|()| kustomize()).err(),
        Need::Remote => engine()
            .and_then(|()| images("tests/real/build-images.sh"))
            .and_then(|()| commands(&["ip", "socat", "openssl", "python3", "ssh"]))
            .and_then(|()| match Path::new("/usr/sbin/sshd").exists() {
                true => Ok(()),
                false => Err("no sshd; apt-get install openssh-server".to_string()),
            })
            .err(),
        Need::Podman => engine().and_then(|()| podman()).err(),
    };
    let Some(why) = missing else {
        return true;
    };
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    if std::env::var_os("ROFS_AUDIT_TEST_ALL").is_some() {
        panic!("{test} cannot run here, and ROFS_AUDIT_TEST_ALL forbids skipping it: {why}");
    }
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
    false
}

/// A daemon that answers, and root; checked once per test process.
fn engine() -> Result<(), String> {
    static ENGINE: OnceLock<Result<(), String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let info = Command::new("docker")
                .args(["info", "--format", "{{.ServerVersion}}"])
                .output();
            match info {
                Ok(out) if out.status.success() => {}
                Ok(out) => {
                    return Err(format!(
                        "no Docker daemon answers ({})",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ))
                }
                Err(e) => return Err(format!("no docker CLI ({e})")),
            }
            let uid = Command::new("id")
                .arg("-u")
                .output()
                .map_err(|e| e.to_string())?;
            match String::from_utf8_lossy(&uid.stdout).trim() {
                "0" => Ok(()),
                _ => Err("not root: tracing reads the engine's overlay storage".to_owned()),
            }
        })
        .clone()
}

/// Each of `names` runs (`NAME -V` or `NAME version`, whichever it takes).
fn commands(names: &[&str]) -> Result<(), String> {
    for name in names {
        let runs = ["-V", "version"].iter().any(|arg| {
            Command::new(name)
                .arg(arg)
                .output()
                .is_ok_and(|o| o.status.success())
        });
        if !runs {
            let package = if *name == "ip" { "iproute2" } else { name };
            return Err(format!("no {name}; apt-get install {package}"));
        }
    }
    Ok(())
}

/// Podman's CLI, and its service answering at [`podman_host`] as a Podman Engine.
fn podman() -> Result<(), String> {
    match Command::new("podman").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => return Err("no podman CLI; apt-get install podman".to_owned()),
    }
    let host = podman_host();
    let Some(path) = host.strip_prefix("unix://") else {
        return Err(format!("{host} is not a unix:// socket"));
    };
    let start = format!("podman system service --time=0 {host} &");
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| format!("nothing listens on {host} ({e}); start it: {start}"))?;
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(15)));
    let mut answer = String::new();
    stream
        .write_all(b"GET /version HTTP/1.0\r\nHost: d\r\n\r\n")
        .and_then(|()| stream.read_to_string(&mut answer))
        .map_err(|e| format!("{host} does not answer ({e}); start it: {start}"))?;
    match answer.contains("Podman Engine") {
        true => Ok(()),
        false => Err(format!("{host} is not podman's service; start it: {start}")),
    }
}

fn compose() -> Result<(), String> {
    match Command::new("docker-compose").arg("version").output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "docker-compose does not run ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!(
            "no docker-compose ({e}); apt-get install docker-compose"
        )),
    }
}

fn kustomize() -> Result<(), String> {
    match Command::new("kubectl")
        .args(["kustomize", "--help"])
        .output()
    {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "kubectl kustomize does not run ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!(
            "no kubectl ({e}); install kubectl 1.21 or later, whose kustomize takes patches:"
        )),
    }
}

/// Builds the images of `script` (relative to the repository) that are missing, once per test
/// process; only missing tags are built.
fn images(script: &'static str) -> Result<(), String> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
            let out = Command::new(&script)
                .output()
                .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
            if out.status.success() {
                return Ok(());
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            Err(format!(
                "{} failed ({}); it needs root, debootstrap, pip and the network for a cold \
                 build: {}",
                script.display(),
                out.status,
                stderr.lines().last().unwrap_or_default()
            ))
        })
        .clone()
}

/// Builds tests/fixture (once per test process) and returns the binary.
///
/// Several test processes may call this at once: cargo's lock on the target
/// directory serialises them, and all but the first find it up to date.
pub fn fixture_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(build_fixture).clone()
}

fn build_fixture() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target_dir = root.join("target").join("fixture");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(&cargo);
    build
        .args(["build", "--release", "--target", FIXTURE_TARGET])
        .arg("--manifest-path")
        .arg(root.join("tests").join("fixture").join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        // Inherited from an outer cargo, it would override RUSTFLAGS.
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    checked(&mut build, "building tests/fixture");
    let binary = target_dir
        .join(FIXTURE_TARGET)
        .join("release")
        .join("rofs-fixture");
    assert!(
        binary.is_file(),
        "cargo built the fixture but {} is missing",
        binary.display()
    );
    binary
}

/// Runs the docker CLI and returns whatever it did; the caller judges.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `docker {}`: {e}", args.join(" ")))
}

/// Runs `command`, panicking with its stderr unless it succeeds.
fn checked(command: &mut Command, what: &str) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

/// Runs the docker CLI, panics with its stderr unless it succeeds, and
/// returns its stdout, trimmed.
pub fn docker_ok(args: &[&str]) -> String {
    let what = format!("`docker {}`", args.join(" "));
    let output = checked(Command::new("docker").args(args), &what);
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Container IDs, then volume names, that carry a label, e.g.
/// `leftovers("dev.rofs-audit.pid=1234")` (a leading `label=` is accepted).
pub fn leftovers(label_filter: &str) -> Vec<String> {
    let label = label_filter.strip_prefix("label=").unwrap_or(label_filter);
    let filter = format!("label={label}");
    let containers = docker_ok(&["ps", "-a", "-q", "--no-trunc", "--filter", &filter]);
    let volumes = docker_ok(&["volume", "ls", "-q", "--filter", &filter]);
    containers
        .lines()
        .chain(volumes.lines())
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Removes a container (and its anonymous volumes) when dropped, so a failing
/// assertion does not leave it behind.
pub struct ContainerGuard(pub String);

impl ContainerGuard {
    pub fn id(&self) -> &str {
        &self.0
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        // Best effort: a panic here would abort a test that is already failing.
        let _ = docker(&["rm", "-f", "-v", &self.0]);
    }
}

/// A file or an empty directory to put into the image.
struct Entry {
    path: String,
    uid: u32,
    gid: u32,
    mode: u32,
    /// `None` for a directory or a link.
    contents: Option<Vec<u8>>,
    /// The target of a symbolic link.
    link: Option<String>,
}

/// A `FROM scratch` image around the fixture:
///
/// ```text
/// FROM scratch
/// COPY skeleton/ /                (root:root 0755 parents of the entries)
/// COPY fixture /app/fixture
/// COPY fixture /usr/local/bin/uv  (with a launcher)
/// ... the dirs and files ...
/// EXPOSE 8080
/// ENTRYPOINT ["/app/fixture"]     (not with a launcher)
/// ... the extra lines, in order ...
/// LABEL dev.rofs-audit.test=1
/// ```
pub struct ImageSpec {
    name: String,
    lines: Vec<String>,
    entries: Vec<Entry>,
    launcher: Option<String>,
}

impl ImageSpec {
    /// `name` becomes the repository `rofs-audit-test/<name>`, so it must be a
    /// valid lowercase docker repository component.
    pub fn new(name: &str) -> ImageSpec {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && name.as_bytes()[0].is_ascii_alphanumeric();
        assert!(
            valid,
            "image name {name:?}: use [a-z0-9._-], starting with a letter or digit"
        );
        ImageSpec {
            name: name.to_owned(),
            lines: Vec::new(),
            entries: Vec::new(),
            launcher: None,
        }
    }

    /// An extra Dockerfile line (`ENV A=b`, `USER 1000`, `VOLUME /data`, ...),
    /// added after the base in the order given.
    pub fn line(mut self, line: &str) -> ImageSpec {
        self.lines.push(line.to_owned());
        self
    }

    /// An empty directory owned by `uid:gid` with exactly `mode` (e.g. 0o1777).
    /// Missing parents are created as root:root 0755.
    pub fn dir(mut self, path: &str, uid: u32, gid: u32, mode: u32) -> ImageSpec {
        self.entries.push(Entry::new(path, uid, gid, mode, None));
        self
    }

    /// A file with `contents`, owned by `uid:gid` with exactly `mode`.
    /// Missing parents are created as root:root 0755.
    pub fn file(
        mut self,
        path: &str,
        contents: impl AsRef<[u8]>,
        uid: u32,
        gid: u32,
        mode: u32,
    ) -> ImageSpec {
        let contents = Some(contents.as_ref().to_vec());
        self.entries
            .push(Entry::new(path, uid, gid, mode, contents));
        self
    }

    /// A symbolic link at `path` to `target` (absolute or relative, as `ln -s` takes it).
    pub fn symlink(mut self, path: &str, target: &str) -> ImageSpec {
        let mut entry = Entry::new(path, 0, 0, 0o777, None);
        entry.link = Some(target.to_owned());
        self.entries.push(entry);
        self
    }

    /// Also installs the fixture as `/usr/local/bin/<name>` (`uv`, `poetry`)
    /// and leaves ENTRYPOINT unset, so a line such as
    /// `CMD ["uv","run","app"]` starts it in launcher mode.
    pub fn launcher(mut self, name: &str) -> ImageSpec {
        assert!(
            !name.is_empty() && !name.contains(['/', ' ', '"']),
            "launcher name {name:?}"
        );
        self.launcher = Some(name.to_owned());
        self
    }

    /// Builds the image unless an identical one exists, and returns its tag,
    /// `rofs-audit-test/<name>:<hash of everything that goes into it>`.
    pub fn build(&self) -> String {
        let binary_path = fixture_binary();
        let binary = fs::read(&binary_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", binary_path.display()));
        let dockerfile = self.dockerfile();
        let tag = format!(
            "rofs-audit-test/{}:{}",
            self.name,
            self.hash(&dockerfile, &binary)
        );

        // Same tag, same inputs: the build would produce the same image.
        if docker(&["image", "inspect", "--format", "{{.Id}}", &tag])
            .status
            .success()
        {
            return tag;
        }

        // A directory of our own, so two test processes building the same tag
        // at once cannot trip over each other's context; the second build
        // merely re-tags an identical image.
        let context = temp_dir("rofs-audit-image");
        self.write_context(context.path(), &binary);
        let mut build = Command::new("docker");
        build
            .args(["build", "-q", "-t", &tag])
            .arg(context.path())
            // The classic builder: no buildx here, and COPY --chown/mode
            // behaviour was verified with it.
            .env("DOCKER_BUILDKIT", "0");
        let output = checked(
            &mut build,
            &format!("docker build of {tag} (Dockerfile:\n{dockerfile})"),
        );
        // Another process may have tagged its identical build after ours,
        // leaving ours dangling: remove it rather than let it pile up.
        let built = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        let tagged = docker_ok(&["image", "inspect", "--format", "{{.Id}}", &tag]);
        if !built.is_empty() && built != tagged {
            let _ = docker(&["image", "rm", &built]);
        }
        tag
    }

    /// Entries in the order they are copied, parents before children. Only
    /// for a readable Dockerfile: the skeleton already holds every parent,
    /// and copying into an existing directory leaves its mode and owner alone.
    fn ordered_entries(&self) -> Vec<(usize, &Entry)> {
        let mut entries: Vec<_> = self.entries.iter().enumerate().collect();
        entries.sort_by_key(|(_, entry)| entry.path.matches('/').count());
        entries
    }

    /// Every proper ancestor of an entry, created root:root 0755 up front.
    /// Without them, COPY would create a missing parent owned by the entry's
    /// --chown owner (classic builder behaviour, seen with Docker 20.10).
    fn skeleton(&self) -> BTreeSet<String> {
        let mut dirs = BTreeSet::new();
        for entry in &self.entries {
            let mut path = Path::new(&entry.path);
            while let Some(parent) = path.parent() {
                if parent != Path::new("/") {
                    dirs.insert(parent.to_string_lossy().into_owned());
                }
                path = parent;
            }
        }
        dirs
    }

    fn dockerfile(&self) -> String {
        let mut text = String::from("FROM scratch\n");
        if !self.skeleton().is_empty() {
            text += "COPY skeleton/ /\n";
        }
        text += "COPY fixture /app/fixture\n";
        if let Some(launcher) = &self.launcher {
            text += &format!("COPY fixture /usr/local/bin/{launcher}\n");
        }
        // Each entry sits alone in entry<i>/ under its own name and is copied
        // into its parent: copying a directory's *contents* is the only way
        // the classic builder keeps that directory's own mode (a directory
        // given as the source arrives as 0755 whatever its mode). Copying
        // over an existing directory does apply the entry's mode and owner.
        for (i, entry) in self.ordered_entries() {
            text += &format!(
                "COPY --chown={}:{} entry{i}/ {}/\n",
                entry.uid,
                entry.gid,
                entry.parent()
            );
        }
        text += "EXPOSE 8080\n";
        if self.launcher.is_none() {
            text += "ENTRYPOINT [\"/app/fixture\"]\n";
        }
        for line in &self.lines {
            text += line;
            text += "\n";
        }
        // Last, so the classic builder's short-lived intermediate containers
        // for the steps above do not carry the label and pass for leftovers.
        text += &format!("LABEL {TEST_LABEL}\n");
        text
    }

    /// FNV-1a over the Dockerfile, the entries (modes and contents are not in
    /// the Dockerfile) and the fixture binary: stable across Rust versions,
    /// unlike std's `DefaultHasher`, and no dependency needed.
    fn hash(&self, dockerfile: &str, binary: &[u8]) -> String {
        let mut hash = Fnv::new();
        hash.part(dockerfile.as_bytes());
        for entry in &self.entries {
            let meta = format!(
                "{} {}:{} {:o}",
                entry.path, entry.uid, entry.gid, entry.mode
            );
            hash.part(meta.as_bytes());
            match (&entry.contents, &entry.link) {
                (Some(contents), _) => hash.part(contents),
                (None, Some(target)) => hash.part(format!("<link {target}>").as_bytes()),
                (None, None) => hash.part(b"<dir>"),
            }
        }
        hash.part(binary);
        format!("{:012x}", hash.0 >> 16)
    }

    fn write_context(&self, dir: &Path, binary: &[u8]) {
        let fixture = dir.join("fixture");
        write(&fixture, binary);
        set_mode(&fixture, 0o755);
        fs::write(dir.join("Dockerfile"), self.dockerfile()).expect("write Dockerfile");
        for path in self.skeleton() {
            let dir = dir.join("skeleton").join(path.trim_start_matches('/'));
            fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
            set_mode(&dir, 0o755);
        }
        for (i, entry) in self.entries.iter().enumerate() {
            let wrapper = dir.join(format!("entry{i}"));
            fs::create_dir(&wrapper).unwrap_or_else(|e| panic!("mkdir {}: {e}", wrapper.display()));
            let target = wrapper.join(entry.name());
            match (&entry.contents, &entry.link) {
                (Some(contents), _) => write(&target, contents),
                (None, Some(link)) => {
                    std::os::unix::fs::symlink(link, &target)
                        .unwrap_or_else(|e| panic!("ln -s {link} {}: {e}", target.display()));
                    // A link has no mode of its own.
                    continue;
                }
                (None, None) => fs::create_dir(&target)
                    .unwrap_or_else(|e| panic!("mkdir {}: {e}", target.display())),
            }
            // Explicitly, since the umask would otherwise decide; COPY keeps it.
            set_mode(&target, entry.mode);
        }
    }
}

impl Entry {
    fn new(path: &str, uid: u32, gid: u32, mode: u32, contents: Option<Vec<u8>>) -> Entry {
        // Dockerfile COPY lines are space-separated and not quoted here.
        let plain = path
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"'\\$".contains(&b));
        assert!(
            path.starts_with('/') && path.len() > 1 && !path.ends_with('/') && plain,
            "image path {path:?}: must be absolute, not /, and plain ASCII without quotes or spaces"
        );
        assert!(mode <= 0o7777, "mode {mode:o} of {path}");
        Entry {
            path: path.to_owned(),
            uid,
            gid,
            mode,
            contents,
            link: None,
        }
    }

    fn parent(&self) -> &str {
        let (parent, _) = self.path.rsplit_once('/').expect("absolute path");
        parent
    }

    fn name(&self) -> &str {
        let (_, name) = self.path.rsplit_once('/').expect("absolute path");
        name
    }
}

struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    /// Length first, so ("ab", "c") and ("a", "bc") differ.
    fn part(&mut self, bytes: &[u8]) {
        for &b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

fn write(path: &Path, contents: &[u8]) {
    fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {:o} {}: {e}", mode, path.display()));
}

/// A fresh directory under the system temp dir, removed when dropped.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap_or_else(|e| panic!("a temp dir for {prefix}: {e}"))
}

/// The rofs-audit binary under test.
pub fn rofs_audit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rofs-audit"))
}

/// Runs the CLI and asserts that nothing it created survives it.
pub fn run(args: &[&str]) -> Output {
    let child = rofs_audit()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run rofs-audit");
    let pid = child.id();
    let output = child.wait_with_output().expect("wait for rofs-audit");
    let left = leftovers(&format!("dev.rofs-audit.pid={pid}"));
    assert!(left.is_empty(), "rofs-audit {args:?} left {left:?} behind");
    output
}

/// Runs the CLI with `--format json` and parses what it prints; `codes` are the acceptable exits.
pub fn run_json(args: &[&str], codes: &[i32]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--format", "json"]);
    let out = run(&all);
    let code = out.status.code().unwrap_or(-1);
    assert!(
        codes.contains(&code),
        "rofs-audit {all:?} exited {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("rofs-audit prints JSON")
}

/// Polls `GET path` on 127.0.0.1:`port` until it answers 200, for up to `timeout`.
pub fn wait_for_200(port: u16, path: &str, timeout: std::time::Duration) -> bool {
    use std::io::{Read, Write};
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            if s.write_all(request.as_bytes()).is_ok()
                && s.read_to_string(&mut answer).is_ok()
                && answer.starts_with("HTTP/1.1 200")
            {
                return true;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

/// The host port Docker published for a container's `port`.
pub fn published_port(container: &str, port: u16) -> u16 {
    let mapping = docker_ok(&["port", container, &format!("{port}/tcp")]);
    mapping
        .lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no published port in {mapping:?}"))
}

/// The paths of a JSON array of mounts.
pub fn mount_paths(mounts: &serde_json::Value) -> Vec<&str> {
    mounts
        .as_array()
        .unwrap_or_else(|| panic!("an array of mounts: {mounts:#}"))
        .iter()
        .map(|m| m["path"].as_str().expect("a mount path"))
        .collect()
}

/// The report's write at `path`.
pub fn write_at<'a>(report: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    report["writes"]
        .as_array()
        .expect("writes")
        .iter()
        .find(|w| w["path"] == path)
        .unwrap_or_else(|| panic!("no write {path} in {:#}", report["writes"]))
}
