//! Health probes: an HTTP GET that must answer an expected status, a GET where any answer below
//! 500 means up (the default), a bare TCP check for services that speak no HTTP, or a command run
//! inside the container as the image's HEALTHCHECK.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;

use crate::model::ProbeResult;

/// Between two attempts of a probe that has not answered as expected yet.
pub const RETRY_PAUSE: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// GET the path (with the headers); it must answer the expected status.
    Http(HttpGet),
    /// GET the path; any answer below 500 means up, and a port that holds a connection but
    /// speaks no HTTP is up too (TCP readiness). What rofs-audit asks when told nothing.
    Any(String),
    Tcp,
    /// A command run inside the container, as the platform runs the image's HEALTHCHECK: exit 0
    /// means healthy.
    Exec(Vec<String>),
}

/// An HTTP GET as a platform's health check sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGet {
    pub path: String,
    /// Sent as given, after rofs-audit's own (a `Host` here replaces ours): Kubernetes'
    /// `httpHeaders`, for an app that answers its health path only to a virtual host or a token.
    pub headers: Vec<(String, String)>,
}

impl From<&str> for HttpGet {
    fn from(path: &str) -> HttpGet {
        HttpGet {
            path: path.to_string(),
            headers: vec![],
        }
    }
}

/// A byte stream to the app's port.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}
pub type Conn = Box<dyn Io>;

/// How a probe reaches the app's port: a port published on this machine, or a relay inside
/// the container's network (`engine::Relay`).
pub trait Dialer: Sync {
    /// The `Host` a probe sends, and how errors name where it went: `127.0.0.1:49153`.
    fn authority(&self) -> String;
    /// The port, as errors and notes name it.
    fn port(&self) -> u16;
    fn dial(&self) -> Pin<Box<dyn Future<Output = Result<Conn, String>> + Send + '_>>;
}

impl Dialer for SocketAddr {
    fn authority(&self) -> String {
        self.to_string()
    }

    fn port(&self) -> u16 {
        SocketAddr::port(self)
    }

    fn dial(&self) -> Pin<Box<dyn Future<Output = Result<Conn, String>> + Send + '_>> {
        Box::pin(async move {
            match TcpStream::connect(*self).await {
                Ok(stream) => Ok(Box::new(stream) as Conn),
                Err(e) => Err(format!("connect {self}: {e}")),
            }
        })
    }
}

/// Where a probe came from, for the report.
pub const EXEC_TARGET: &str = "HEALTHCHECK";

impl Probe {
    pub fn parse(s: &str) -> Result<Probe, String> {
        match s {
            "tcp" => Ok(Probe::Tcp),
            p if p.starts_with('/') && p.contains(char::is_whitespace) => Err(format!(
                "probe {p:?} has a space in it, which no HTTP request line can carry; write it \
                 as %20"
            )),
            p if p.starts_with('/') => Ok(Probe::Http(p.into())),
            other => Err(format!(
                "probe {other:?} is neither an HTTP path (starting with /) nor `tcp`"
            )),
        }
    }

    /// The image's HEALTHCHECK as a probe: `CMD` runs its words, `CMD-SHELL` a shell; `NONE`
    /// and an empty test disable it.
    pub fn from_healthcheck(test: &[String]) -> Option<Probe> {
        match test {
            [kind, words @ ..] if kind == "CMD" && !words.is_empty() => {
                Some(Probe::Exec(words.to_vec()))
            }
            [kind, script] if kind == "CMD-SHELL" => Some(Probe::Exec(vec![
                "/bin/sh".into(),
                "-c".into(),
                script.clone(),
            ])),
            _ => None,
        }
    }

    /// How results and gates name it.
    pub fn target(&self) -> &str {
        match self {
            Probe::Http(HttpGet { path, .. }) | Probe::Any(path) => path,
            Probe::Tcp => "tcp",
            Probe::Exec(_) => EXEC_TARGET,
        }
    }

    /// What it asks, for the report.
    pub fn describe(&self, expect: u16) -> String {
        match self {
            Probe::Http(HttpGet { path, headers }) if headers.is_empty() => {
                format!("GET {path} answers {expect}")
            }
            // Header names only: a value may be a token, and reports go to job summaries and
            // pull requests.
            Probe::Http(HttpGet { path, headers }) => {
                let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
                format!("GET {path} (with {}) answers {expect}", names.join(", "))
            }
            Probe::Any(path) => format!(
                "GET {path} answers below 500, or the port holds a connection if it speaks no HTTP"
            ),
            Probe::Tcp => "the port holds a connection".to_string(),
            Probe::Exec(words) => format!("HEALTHCHECK {} exits 0", shell_words(words)),
        }
    }

    /// Probes the app's port once (never an exec probe: that one is the container's).
    /// `latency_ms` is the wall time of the whole exchange.
    pub async fn check(&self, to: &dyn Dialer, expect: u16, timeout: Duration) -> ProbeResult {
        let started = Instant::now();
        let outcome = tokio::time::timeout(timeout, self.exchange(to, expect)).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        let (answer, error) = match outcome {
            Ok(Ok(answer)) => (answer, None),
            Ok(Err(e)) => (Answer::default(), Some(e.to_string())),
            Err(_) => (
                Answer::default(),
                Some(format!(
                    "the port accepted the connection but gave no answer within {}",
                    seconds(timeout)
                )),
            ),
        };
        let ok = error.is_none()
            && match self {
                Probe::Http(_) => answer.status == Some(expect),
                Probe::Any(_) => answer.status.is_none_or(|s| s < 500),
                Probe::Tcp => true,
                Probe::Exec(_) => false,
            };
        ProbeResult {
            target: self.target().to_string(),
            status: answer.status,
            latency_ms,
            ok,
            error,
            note: answer.note,
        }
    }

    async fn exchange(&self, to: &dyn Dialer, expect: u16) -> Result<Answer, Failure> {
        let connect = || async { to.dial().await.map_err(Failure::NotYet) };
        match self {
            Probe::Tcp => tcp_accepts(connect().await?)
                .await
                .map(|()| Answer::default()),
            Probe::Http(get) => http_get(connect().await?, to, get)
                .await
                .map(Answer::status),
            Probe::Any(path) => match http_get(connect().await?, to, &path.as_str().into()).await {
                Err(Failure::NotHttp(why) | Failure::NotYet(why)) => {
                    // Something holds the connection open but does not answer HTTP: a broker,
                    // a database. Docker's proxy closes at once when nothing listens.
                    tcp_accepts(connect().await?).await?;
                    Ok(Answer {
                        status: None,
                        note: Some(format!(
                            "port {} speaks no HTTP ({why}): TCP readiness used; give --probe \
                             tcp to say so, or an HTTP --probe path",
                            to.port()
                        )),
                    })
                }
                other => other.map(Answer::status),
            },
            Probe::Exec(_) => Err(Failure::NotYet(format!(
                "{EXEC_TARGET} runs in the container, not on a port (expected {expect})"
            ))),
        }
    }
}

/// What an exchange showed: the HTTP status, if the port spoke HTTP.
#[derive(Default)]
struct Answer {
    status: Option<u16>,
    note: Option<String>,
}

impl Answer {
    fn status(status: u16) -> Answer {
        Answer {
            status: Some(status),
            note: None,
        }
    }
}

/// Why an exchange failed.
#[derive(Debug)]
enum Failure {
    /// Nothing answered yet: no listener, or a proxy that closes at once.
    NotYet(String),
    /// Something answered, but not in HTTP.
    NotHttp(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NotYet(why) => f.write_str(why),
            Failure::NotHttp(why) => write!(
                f,
                "the port answers, but not in HTTP ({why}): use --probe tcp for a service that \
                 speaks another protocol"
            ),
        }
    }
}

/// Docker's userland proxy accepts every connection on a published port and closes it at once
/// when nothing listens inside, so an accepted connect alone proves nothing: the port counts as
/// open when the connection stays up (or the service greets us).
async fn tcp_accepts(mut stream: Conn) -> Result<(), Failure> {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut byte)).await {
        Err(_) | Ok(Ok(1..)) => Ok(()),
        Ok(Ok(0)) => Err(Failure::NotYet(
            "connection closed at once: nothing listens in the container".into(),
        )),
        Ok(Err(e)) => Err(Failure::NotYet(format!("connection failed: {e}"))),
    }
}

async fn http_get(stream: Conn, to: &dyn Dialer, get: &HttpGet) -> Result<u16, Failure> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Failure::NotYet(format!("HTTP handshake: {e}")))?;
    let conn = tokio::spawn(conn);
    let path = &get.path;
    let mut request =
        hyper::Request::get(path.as_str()).header(hyper::header::USER_AGENT, "rofs-audit");
    if !get
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        request = request.header(hyper::header::HOST, to.authority());
    }
    for (name, value) in &get.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| Failure::NotYet(format!("bad probe {path:?}: {e}")))?;
    let response = sender.send_request(request).await.map_err(|e| {
        if e.is_incomplete_message() || e.is_closed() {
            Failure::NotYet(
                "connection closed before an answer: nothing listens in the container yet"
                    .to_string(),
            )
        } else if e.is_parse() {
            Failure::NotHttp(e.to_string())
        } else {
            Failure::NotYet(format!("HTTP request failed: {e}"))
        }
    });
    conn.abort();
    Ok(response?.status().as_u16())
}

/// The ports a log line says the app listens on: `Listening at: http://0.0.0.0:8000`,
/// `listening on port 3000`, `Uvicorn running on http://0.0.0.0:8000`, `bound to [::]:80`.
/// Only what follows such words counts, so a timestamp's `12:34` is no port.
pub fn announced_ports(line: &str) -> Vec<u16> {
    const SAYS: [&str; 6] = [
        "listen",
        "running on",
        "serving on",
        "bound to",
        "started on",
        "available at",
    ];
    // A port announcement is short; a long line is a payload, not worth the search.
    if line.len() > 512 {
        return vec![];
    }
    let lower = line.to_ascii_lowercase();
    let Some(at) = SAYS.iter().filter_map(|w| lower.find(w)).min() else {
        return vec![];
    };
    let rest = &lower[at..];
    let mut ports = vec![];
    let bytes = rest.as_bytes();
    for (i, _) in rest.match_indices(':') {
        ports.extend(number_at(&bytes[i + 1..]));
    }
    for (i, word) in rest.match_indices("port") {
        let after = rest[i + word.len()..].trim_start_matches([' ', '=', ':', 's']);
        ports.extend(number_at(after.as_bytes()));
    }
    ports.retain(|&p| p > 0);
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The number `bytes` starts with, if it ends there and fits a port.
fn number_at(bytes: &[u8]) -> Option<u16> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || bytes.get(digits).is_some_and(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    std::str::from_utf8(&bytes[..digits]).ok()?.parse().ok()
}

/// `30s`, or `1.5s`.
pub fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// Words as a shell would read them back.
pub fn shell_words(words: &[String]) -> String {
    shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_read_from_what_servers_announce_and_nothing_else() {
        for (line, ports) in [
            (
                "[2026-12-07 12:34:56 +0000] [1] [INFO] Listening at: http://0.0.0.0:8000 (1)",
                vec![8000],
            ),
            (
                "INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)",
                vec![8000],
            ),
            (" * Running on http://127.0.0.1:5000", vec![5000]),
            ("Server listening on port 3000", vec![3000]),
            (
                "2026/12/07 12:34:56 listening on [::]:8080 and :9090",
                vec![8080, 9090],
            ),
            ("12:34:56 ready to accept connections", vec![]),
            ("12:34:56 GET /health 200", vec![]),
            ("listening on unix:/run/app.sock", vec![]),
        ] {
            assert_eq!(announced_ports(line), ports, "{line}");
        }
    }

    #[test]
    fn parses_paths_and_tcp() {
        assert_eq!(Probe::parse("/health"), Ok(Probe::Http("/health".into())));
        assert_eq!(Probe::parse("tcp"), Ok(Probe::Tcp));
        assert!(Probe::parse("health")
            .unwrap_err()
            .contains("starting with /"));
    }

    /// A server on a loopback port that answers each request with the status `answer` gives
    /// for it (lowercased), and holds a connection that sends nothing for a second.
    async fn serve(answer: fn(&str) -> &'static str) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                let request = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                let status = answer(&request);
                let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn an_http_probe_sends_its_headers_and_its_host_replaces_ours() {
        // Answers 200 only to the virtual host with the token, as an app behind a router might.
        let addr = serve(|request| {
            let wanted = request.matches("\r\nhost:").count() == 1
                && request.contains("\r\nhost: app.example\r\n")
                && request.contains("\r\nx-probe: 1\r\n");
            if wanted {
                "200 OK"
            } else {
                "404 Not Found"
            }
        })
        .await;
        let timeout = Duration::from_secs(5);
        let bare = Probe::Http("/ready".into())
            .check(&addr, 200, timeout)
            .await;
        assert_eq!(bare.status, Some(404));
        let probe = Probe::Http(HttpGet {
            path: "/ready".into(),
            headers: vec![
                ("Host".into(), "app.example".into()),
                ("X-Probe".into(), "1".into()),
            ],
        });
        assert_eq!(
            probe.describe(200),
            "GET /ready (with Host, X-Probe) answers 200"
        );
        let answered = probe.check(&addr, 200, timeout).await;
        assert_eq!((answered.status, answered.ok), (Some(200), true));
    }

    #[tokio::test]
    async fn http_probe_reads_the_status_and_tcp_probe_sees_a_listener() {
        let addr = serve(|_| "503 Service Unavailable").await;
        let timeout = Duration::from_secs(5);
        let http = Probe::Http("/health".into())
            .check(&addr, 200, timeout)
            .await;
        assert_eq!((http.status, http.ok), (Some(503), false));
        assert!(Probe::Tcp.check(&addr, 200, timeout).await.ok);
    }
}
