//! Platform profiles: what stays writable under a read-only root on each platform, whether tmpfs
//! mounts can be added and with which limits, and how a fix is written there. The built-in
//! profiles live in profiles/*.yaml and are embedded in the binary; `--profile FILE` reads one
//! from disk.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub title: String,
    pub summary: String,
    /// How the platform turns a read-only root on, e.g. `readonlyRootFilesystem: true`.
    pub read_only_setting: String,
    /// Paths that stay writable under a read-only root with no configuration at all.
    pub writable: Vec<WritablePath>,
    /// Whether the container gets a /dev/shm.
    pub shm: bool,
    /// Whether writes into the image's declared VOLUMEs land on a writable volume.
    pub image_volumes_writable: bool,
    pub tmpfs: Tmpfs,
    /// Disk-backed scratch space where tmpfs is unavailable, or as an alternative to it.
    #[serde(default)]
    pub fallback: Option<Fallback>,
    /// Fix formats shown by default for this profile.
    pub emit: Vec<FixFormat>,
    /// Where the facts above come from.
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WritablePath {
    pub path: String,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tmpfs {
    /// Whether tmpfs mounts can be added to the container.
    pub available: bool,
    #[serde(default)]
    pub max_size_mib: Option<u64>,
    /// Whether mount options can set the owner (uid=, gid=); where not, another mechanism must
    /// make the mount writable for a non-root user (e.g. Kubernetes fsGroup).
    pub owner_options: bool,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    pub kind: String,
    pub note: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FixFormat {
    /// docker run flags
    Docker,
    /// a docker compose service snippet
    Compose,
    /// an ECS task definition container fragment
    Ecs,
    /// AWS CDK TypeScript
    Cdk,
    /// a Kubernetes container securityContext and emptyDir volumes
    Kubernetes,
}
