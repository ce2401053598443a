//! Health probes against the container's published port: an HTTP GET that must answer an expected
//! status, or a bare TCP check for services that speak no HTTP.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::model::ProbeResult;

/// Between two attempts of a probe that has not answered as expected yet.
pub const RETRY_PAUSE: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Http(String),
    Tcp,
}

impl Probe {
    pub fn parse(s: &str) -> Result<Probe, String> {
        match s {
            "tcp" => Ok(Probe::Tcp),
            p if p.starts_with('/') => Ok(Probe::Http(p.to_string())),
            other => Err(format!(
                "probe {other:?} is neither an HTTP path (starting with /) nor `tcp`"
            )),
        }
    }

    pub fn target(&self) -> &str {
        match self {
            Probe::Http(path) => path,
            Probe::Tcp => "tcp",
        }
    }

    /// Probes once. `latency_ms` is the wall time of the whole exchange.
    pub async fn check(&self, addr: SocketAddr, expect: u16, timeout: Duration) -> ProbeResult {
        let started = Instant::now();
        let outcome = tokio::time::timeout(timeout, self.exchange(addr)).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        let (status, error) = match outcome {
            Ok(Ok(status)) => (status, None),
            Ok(Err(e)) => (None, Some(e)),
            Err(_) => (
                None,
                Some(format!("no answer within {}s", timeout.as_secs())),
            ),
        };
        let ok = error.is_none()
            && match self {
                Probe::Http(_) => status == Some(expect),
                Probe::Tcp => true,
            };
        ProbeResult {
            target: self.target().to_string(),
            status,
            latency_ms,
            ok,
            error,
        }
    }

    /// Probes until it answers as expected or `budget` runs out, as ECS and Kubernetes health
    /// checks retry: a readiness endpoint that answers 503 for a moment after the port opens is
    /// not a failure. `latency_ms` runs from the first attempt to the good answer; a failure
    /// keeps the last answer that came from the app itself.
    pub async fn until_ok(&self, addr: SocketAddr, expect: u16, budget: Duration) -> ProbeResult {
        let started = Instant::now();
        let mut last: Option<ProbeResult> = None;
        loop {
            let left = budget.saturating_sub(started.elapsed());
            let result = self
                .check(addr, expect, left.max(Duration::from_millis(1)))
                .await;
            let from_app = result.status.is_some();
            if result.ok {
                return ProbeResult {
                    latency_ms: started.elapsed().as_millis() as u64,
                    ..result
                };
            }
            if from_app || !last.as_ref().is_some_and(|l| l.status.is_some()) {
                last = Some(result);
            }
            if started.elapsed() + RETRY_PAUSE >= budget {
                let mut last = last.expect("one attempt was made");
                last.latency_ms = started.elapsed().as_millis() as u64;
                return last;
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    async fn exchange(&self, addr: SocketAddr) -> Result<Option<u16>, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        match self {
            Probe::Tcp => tcp_accepts(stream).await.map(|()| None),
            Probe::Http(path) => http_get(stream, addr, path).await.map(Some),
        }
    }
}

/// Docker's userland proxy accepts every connection on a published port and closes it at once
/// when nothing listens inside, so an accepted connect alone proves nothing: the port counts as
/// open when the connection stays up (or the service greets us).
async fn tcp_accepts(mut stream: TcpStream) -> Result<(), String> {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut byte)).await {
        Err(_) | Ok(Ok(1..)) => Ok(()),
        Ok(Ok(0)) => Err("connection closed at once: nothing listens in the container".into()),
        Ok(Err(e)) => Err(format!("connection failed: {e}")),
    }
}

async fn http_get(stream: TcpStream, addr: SocketAddr, path: &str) -> Result<u16, String> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let conn = tokio::spawn(conn);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::USER_AGENT, "rofs-audit")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("bad probe path {path:?}: {e}"))?;
    let response = sender.send_request(request).await.map_err(|e| {
        if e.is_incomplete_message() || e.is_closed() {
            "connection closed before an answer: nothing listens in the container yet".to_string()
        } else {
            format!("HTTP request failed: {e}")
        }
    });
    conn.abort();
    Ok(response?.status().as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_and_tcp() {
        assert_eq!(Probe::parse("/health"), Ok(Probe::Http("/health".into())));
        assert_eq!(Probe::parse("tcp"), Ok(Probe::Tcp));
        assert!(Probe::parse("health")
            .unwrap_err()
            .contains("starting with /"));
    }

    #[tokio::test]
    async fn http_probe_reads_the_status_and_tcp_probe_sees_a_listener() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).await.unwrap_or(0);
                if n > 0 {
                    let _ = s
                        .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                        .await;
                } else {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
        let timeout = Duration::from_secs(5);
        let http = Probe::Http("/health".into())
            .check(addr, 200, timeout)
            .await;
        assert_eq!((http.status, http.ok), (Some(503), false));
        assert!(Probe::Tcp.check(addr, 200, timeout).await.ok);
    }
}
