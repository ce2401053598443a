//! Which engine answers the Docker API: Docker, or podman's compatible service. They differ where
//! a proof must follow the engine: podman takes no `uid=`/`gid=` on a tmpfs (its `U` option owns
//! one instead), gives a read-only container its own tmpfs set, and writes mount points of its
//! own into the container's layer.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Docker,
    Podman,
}

impl Flavor {
    /// The engine's flavor: podman names a "Podman Engine" component in its version. An
    /// engine that does not say is taken for Docker.
    pub(super) async fn of(docker: &bollard::Docker) -> Flavor {
        match docker.version().await {
            Ok(version) => Self::from_components(
                (version.components.unwrap_or_default().iter()).map(|c| c.name.as_str()),
            ),
            Err(_) => Flavor::Docker,
        }
    }

    fn from_components<'a>(mut names: impl Iterator<Item = &'a str>) -> Flavor {
        match names.any(|n| n.eq_ignore_ascii_case("Podman Engine")) {
            true => Flavor::Podman,
            false => Flavor::Docker,
        }
    }

    /// Paths the engine itself writes in every container's own layer as it starts it, which are
    /// not the app's writes when nothing written below them is reported. Podman has no init
    /// layer: it makes the mount points of hosts, hostname and resolv.conf in /etc (its
    /// changes API then calls /etc modified without naming them), and adds the container's
    /// user and group to /etc/passwd and /etc/group where the image lacks them (Docker does
    /// neither). An app's own write to these two is not told apart on podman.
    pub fn own_paths(self) -> &'static [&'static str] {
        match self {
            Flavor::Docker => &[],
            Flavor::Podman => &["/etc", "/etc/passwd", "/etc/group"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_is_told_by_its_engine_component() {
        // As podman 4.3.1 and Docker 20.10 name their components.
        let podman = ["Podman Engine", "Conmon", "OCI Runtime (runc)"];
        assert_eq!(Flavor::from_components(podman.into_iter()), Flavor::Podman);
        let docker = ["Engine", "containerd", "runc", "docker-init"];
        assert_eq!(Flavor::from_components(docker.into_iter()), Flavor::Docker);
        assert_eq!(Flavor::from_components([].into_iter()), Flavor::Docker);
    }
}
