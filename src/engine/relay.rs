//! Probes from inside the container's network: a helper container that shares the audited
//! container's network namespace carries the relay (relay/relay.c), and each probe connection is
//! a `docker exec` of it whose stdin and stdout are the connection. It reaches the app wherever
//! the engine is (a CI's docker:dind, a build VM over TLS or ssh) with no port published, as a
//! platform's health check does: from the container's own network.

use std::net::Ipv4Addr;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};

use anyhow::{bail, Context, Result};
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, ContainerInspectResponse, HostConfig};
use bollard::query_parameters::UploadToContainerOptionsBuilder;
use futures_util::Stream;
use hyper::body::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::client::{cause, Engine, RunId};
use crate::probe::{Conn, Dialer};

/// The relay, built by build.rs; empty where the build could not link it statically.
const RELAY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/relay"));
/// The architecture it runs on, in the engine's words (`amd64`).
const RELAY_ARCH: &str = env!("ROFS_AUDIT_RELAY_ARCH");
/// Where it is copied in the helper container: one file at the root, which no image uses.
const RELAY_PATH: &str = "/.rofs-audit-relay";

/// A helper container beside one run of the audited container.
pub struct Relay {
    engine: Engine,
    pub id: String,
    /// The app's address in its network, as a platform's probe reaches it.
    address: Ipv4Addr,
    port: u16,
}

impl Relay {
    /// Starts a helper in the network of `app`, which must be running, to reach `port`.
    pub async fn start(
        engine: &Engine,
        run: &RunId,
        app: &ContainerInspectResponse,
        port: u16,
    ) -> Result<Relay> {
        if RELAY.is_empty() {
            bail!(
                "this build of rofs-audit has no probe relay (its C part could not be linked \
                 statically), so it cannot probe an app on an engine elsewhere; rebuild it on \
                 Linux with a static C library (Debian's libc6-dev), or audit on the engine's \
                 own host"
            );
        }
        let image = app.image.clone().unwrap_or_default();
        let image_arch = (engine.docker().inspect_image(&image).await)
            .ok()
            .and_then(|i| i.architecture);
        if let Some(arch) = image_arch.filter(|a| a != RELAY_ARCH) {
            bail!(
                "the image is built for {arch} and this rofs-audit's probe relay for \
                 {RELAY_ARCH}, so probes cannot reach the app from inside its network; run \
                 rofs-audit built for {arch}, or on the engine's own host"
            );
        }
        let app_id = app.id.clone().unwrap_or_default();
        let body = ContainerCreateBody {
            image: Some(image),
            entrypoint: Some(vec![RELAY_PATH.to_string(), "wait".to_string()]),
            cmd: Some(vec![]),
            // Nobody: connecting needs no rights, and no name has to exist in the image.
            user: Some("65534:65534".to_string()),
            host_config: Some(HostConfig {
                network_mode: Some(format!("container:{app_id}")),
                privileged: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        };
        let id = engine.create_container(run, "relay", body).await?;
        let relay = Relay {
            engine: engine.clone(),
            id,
            address: app_address(app),
            port,
        };
        let docker = engine.docker();
        let options = UploadToContainerOptionsBuilder::default().path("/").build();
        docker
            .upload_to_container(&relay.id, Some(options), bollard::body_full(relay_tar()?))
            .await
            .map_err(|e| anyhow::anyhow!("cannot copy the probe relay in: {}", cause(&e)))?;
        docker
            .start_container(&relay.id, None)
            .await
            .map_err(|e| anyhow::anyhow!("cannot start the probe relay: {}", cause(&e)))?;
        Ok(relay)
    }

    /// Removes the helper now; a failure is left to the run's cleanup guard.
    pub async fn remove(self) {
        let options = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
            .force(true)
            .build();
        let _ = (self.engine.docker())
            .remove_container(&self.id, Some(options))
            .await;
    }

    /// How the report says the app was reached.
    pub fn describe(&self) -> String {
        format!(
            "from inside the container's network, at {}:{}, through a relay container beside \
             it ({})",
            self.address,
            self.port,
            self.engine.probes_inside().unwrap_or("asked for")
        )
    }

    async fn open(&self) -> Result<Conn, String> {
        let docker = self.engine.docker();
        let exec = docker
            .create_exec(
                &self.id,
                CreateExecOptions {
                    cmd: Some(vec![
                        RELAY_PATH.to_string(),
                        self.address.to_string(),
                        self.port.to_string(),
                    ]),
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(false),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| format!("cannot run the probe relay: {}", cause(&e)))?;
        match docker.start_exec(&exec.id, None).await {
            Ok(StartExecResults::Attached { output, input }) => Ok(Box::new(RelayStream {
                output,
                input,
                pending: Bytes::new(),
            })),
            Ok(StartExecResults::Detached) => Err("the probe relay started detached".to_string()),
            Err(e) => Err(format!("cannot run the probe relay: {}", cause(&e))),
        }
    }
}

impl Dialer for Relay {
    fn authority(&self) -> String {
        format!("{}:{}", self.address, self.port)
    }

    fn port(&self) -> u16 {
        self.port
    }

    fn dial(&self) -> Pin<Box<dyn std::future::Future<Output = Result<Conn, String>> + Send + '_>> {
        Box::pin(self.open())
    }
}

/// The container's address on its first network; its loopback where it has none.
fn app_address(app: &ContainerInspectResponse) -> Ipv4Addr {
    let settings = app.network_settings.as_ref();
    let networks = settings.and_then(|n| n.networks.as_ref());
    (networks.into_iter().flat_map(|n| n.values()))
        .filter_map(|n| n.ip_address.as_deref())
        .find_map(|ip| ip.parse().ok())
        .unwrap_or(Ipv4Addr::LOCALHOST)
}

/// A tar holding the relay at [`RELAY_PATH`], executable by anyone.
fn relay_tar() -> Result<Bytes> {
    let mut archive = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(RELAY.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    archive
        .append_data(&mut header, RELAY_PATH.trim_start_matches('/'), RELAY)
        .context("cannot pack the probe relay")?;
    Ok(Bytes::from(
        archive
            .into_inner()
            .context("cannot pack the probe relay")?,
    ))
}

/// One exec of the relay as a byte stream: what the probe writes goes to its stdin, what the
/// app answers comes back on its stdout.
struct RelayStream {
    output: Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>,
    input: Pin<Box<dyn AsyncWrite + Send>>,
    /// What came in one frame and did not fit the reader's buffer.
    pending: Bytes,
}

impl AsyncRead for RelayStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.remaining());
                let chunk = self.pending.split_to(n);
                buf.put_slice(&chunk);
                return Poll::Ready(Ok(()));
            }
            match ready!(self.output.as_mut().poll_next(cx)) {
                Some(Ok(LogOutput::StdOut { message })) => self.pending = message,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(std::io::Error::other(e))),
                // The relay ended: the app closed, or nothing listened.
                None => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl AsyncWrite for RelayStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.input.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        self.input.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.input.as_mut().poll_shutdown(cx)
    }
}
