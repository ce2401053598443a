//! Kubernetes manifests written back with the proven fix: each proven container gets a read-only
//! root and an emptyDir volume per mount of its fix, its pod the fsGroup that makes them the
//! app's and an init container per volume that must start with the image's files; or the same
//! as a kustomize patch.

use anyhow::{Context, Result};
use serde_yaml_ng::{Mapping, Value};

use super::document::Document;
use super::proven::{new_mounts, patch_each};
use super::tree::{added, at_path, get_path, list_at, map_at, mapping};
use crate::model::{Mount, MountKind, MultiReport, Report, Seed, TargetReport};
use crate::report::seed::{self, Copier, SEED_AT};
use crate::report::yaml;
use crate::spec::pod_spec_path;

/// Where a container of the manifests is: its document, and in it its object (empty for the
/// document itself, `items[2]` in a List), the object's pod spec and the container.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Place {
    document: usize,
    kind: String,
    object: String,
    pod: String,
    container: String,
    /// The pod spec's list that holds the container: `containers` or `initContainers`.
    list: String,
    /// The init containers the patch added to the pod for the container: those that fill its
    /// volumes with the image's files.
    seeds: Vec<String>,
}

/// Merges each proven container's fix into `documents`; the places of the containers patched,
/// and the notes for the reader.
pub(super) fn patch(
    documents: &mut Vec<Document>,
    audited: &MultiReport,
    json: bool,
) -> (Vec<Place>, Vec<String>) {
    let places = places(documents, audited);
    let mut patched = vec![];
    let mut claims = vec![];
    let notes = patch_each(documents, places, |documents, place, target| {
        let place = place?;
        let document = &mut documents[place.document].value;
        // A claim is an object of its own, which a JSON List cannot take after its documents.
        let claim_here = !json && place.kind != "StatefulSet";
        let (notes, seeds, new) = patch_container(document, &place, &target.report, claim_here)?;
        claims.extend(new);
        patched.push(Place { seeds, ..place });
        Ok(notes)
    });
    let mut notes = notes;
    for claim in &claims {
        notes.push(format!(
            "the PersistentVolumeClaim {} is new: the whole patch adds it after the manifests; \
             with a kustomize patch, add it to the kustomization's resources",
            text(claim.get("metadata").and_then(|m| m.get("name")))
        ));
    }
    documents.extend(claims.into_iter().map(|claim| Document::new(None, claim)));
    (patched, notes)
}

/// Each target with the place of its container. The report gives a container's place within
/// its document, not the document: the document is the one whose object has the target's kind
/// and name (`Kind/name/container`) and a container of its name at that place; objects of one
/// kind and name in several documents (one per namespace) are told apart by their order, which
/// the audit keeps.
fn places<'a>(
    documents: &[Document],
    audited: &'a MultiReport,
) -> Vec<(&'a TargetReport, Option<Result<Place>>)> {
    let mut seen: Vec<(&str, &str)> = vec![];
    let places = audited.targets.iter().map(|target| {
        let place = target.spec_path.as_deref().map(|path| {
            let key = (target.name.as_str(), path);
            let nth = seen.iter().filter(|s| **s == key).count();
            seen.push(key);
            locate(documents, &target.name, path, nth)
        });
        (target, place)
    });
    places.collect()
}

/// The place of the `nth` container `name` at `path` in `documents`.
fn locate(documents: &[Document], name: &str, path: &str, nth: usize) -> Result<Place> {
    let mut parts = name.splitn(3, '/');
    let mut part = || parts.next().unwrap_or_default();
    let (kind, object_name, container) = (part(), part(), part());
    let (pod, last) = path.rsplit_once('.').unwrap_or(("", path));
    let object = pod_spec_path(kind)
        .and_then(|at| pod.strip_suffix(at))
        .filter(|object| object.is_empty() || object.ends_with('.'))
        .map(|object| object.trim_end_matches('.'))
        .with_context(|| format!("{path} is not where a {kind} keeps its containers"))?;
    let found = documents.iter().enumerate().filter(|(_, document)| {
        let at = |path: &str| get_path(&document.original, path);
        at(object).is_some_and(|o| {
            text(o.get("kind")) == kind
                && text(o.get("metadata").and_then(|m| m.get("name"))) == object_name
        }) && text(at(path).and_then(|c| c.get("name"))) == container
    });
    let (document, _) = found.into_iter().nth(nth).with_context(|| {
        format!(
            "the manifests have no {kind} {object_name} with the container {container} at {path}"
        )
    })?;
    Ok(Place {
        document,
        kind: kind.to_string(),
        object: object.to_string(),
        pod: pod.to_string(),
        container: path.to_string(),
        list: last.split('[').next().unwrap_or_default().to_string(),
        seeds: vec![],
    })
}

/// A string value, or empty.
fn text(value: Option<&Value>) -> &str {
    value.and_then(Value::as_str).unwrap_or_default()
}

/// Merges `report`'s fix into the container at `place` of `document`: a read-only root, and per
/// mount the container does not have yet an emptyDir volume (in memory with the mount's size for
/// a tmpfs, on the node's disk for state) and its volumeMount; and the pod's fsGroup where the
/// mounts must be the app's group's, since an emptyDir takes no uid= or gid= as a tmpfs does.
/// A mount that starts with the image's files gets an init container that copies them in (see
/// [`seed_container`]), added to the pod's own; their names come back with the notes.
/// What the manifest cannot say comes back as notes: state in an emptyDir, which goes with the
/// pod, and an fsGroup the pod already sets to another group.
#[allow(clippy::type_complexity)]
fn patch_container(
    document: &mut Value,
    place: &Place,
    report: &Report,
    claim_here: bool,
) -> Result<(Vec<String>, Vec<String>, Vec<Value>)> {
    let no_pod = || format!("the manifests have no pod spec at {}", place.pod);
    let pod = get_path(document, &place.pod).with_context(no_pod)?;
    let names = |list: &str| -> Vec<String> {
        let list = pod.get(list).and_then(Value::as_sequence);
        list.into_iter()
            .flatten()
            .filter_map(|v| Some(v.get("name")?.as_str()?.to_string()))
            .collect()
    };
    let mut taken = names("volumes");
    // Every container's name, as an init container's must differ from them all.
    let mut containers = names("containers");
    containers.extend(names("initContainers"));
    let fs_group = pod
        .get("securityContext")
        .and_then(|s| s.get("fsGroup"))
        .and_then(Value::as_u64);
    let namespace = get_path(document, &place.object)
        .and_then(|o| o.get("metadata")?.get("namespace"))
        .cloned();

    let container = at_path(document, &place.container)
        .and_then(Value::as_mapping_mut)
        .with_context(|| format!("the manifests have no container at {}", place.container))?;
    let security = map_at(container, "securityContext")?;
    security.insert("readOnlyRootFilesystem".into(), Value::Bool(true));
    let mounted = container.get("volumeMounts").and_then(Value::as_sequence);
    let mounted: Vec<&str> = mounted
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("mountPath")?.as_str())
        .map(|path| match path.trim_end_matches('/') {
            "" => "/",
            path => path,
        })
        .collect();
    let mounts = new_mounts(report, &mounted);
    let (mut volumes, mut notes, mut owner) = (vec![], vec![], None);
    let (mut seeds, mut claims) = (vec![], vec![]);
    for (mount, name) in mounts {
        let name = unique(&format!("rofs-{name}"), &taken);
        taken.push(name.clone());
        if mount.starts_with() != Seed::Empty {
            seeds.push((mount, name.clone()));
        }
        let entry = mapping([
            ("name".into(), Value::from(name.as_str())),
            ("mountPath".into(), Value::from(mount.path.as_str())),
        ]);
        list_at(container, "volumeMounts")?.push(entry);
        let empty_dir = match mount.kind {
            MountKind::Tmpfs => mapping([
                ("medium".into(), Value::from("Memory")),
                (
                    "sizeLimit".into(),
                    Value::from(format!("{}Mi", mount.size_mib)),
                ),
            ]),
            MountKind::Volume if seed::fresh(mount) => Value::Mapping(Mapping::new()),
            MountKind::Volume if claim_here && mount.starts_with() == Seed::Once => {
                // Data the image ships: a claim of its own, which the seed container fills
                // while it is new.
                claims.push(claim(&name, mount.size_mib, namespace.as_ref()));
                let source = mapping([("claimName".into(), Value::from(name.as_str()))]);
                volumes.push(mapping([
                    ("name".into(), Value::from(name)),
                    ("persistentVolumeClaim".into(), source),
                ]));
                owner = owner.or(mount.owner);
                continue;
            }
            MountKind::Volume => {
                notes.push(state_note(&place.kind, mount, &name));
                Value::Mapping(Mapping::new())
            }
        };
        volumes.push(mapping([
            ("name".into(), Value::from(name)),
            ("emptyDir".into(), empty_dir),
        ]));
        owner = owner.or(mount.owner);
    }
    // The seed containers run as the app does: its image, its securityContext (a read-only root
    // now, and its user).
    let image = container.get("image").cloned().unwrap_or_default();
    let security = container.get("securityContext").cloned();
    let seeds: Vec<Value> = seeds
        .into_iter()
        .map(|(mount, volume)| {
            let name = seed::unique(&format!("seed-{volume}"), |n| {
                containers.iter().any(|c| c == n)
            });
            containers.push(name.clone());
            seed_container(mount, &name, &volume, &image, security.as_ref())
        })
        .collect();
    let seed_names: Vec<String> = seeds
        .iter()
        .filter_map(|s| Some(s.get("name")?.as_str()?.to_string()))
        .collect();
    if !seed_names.is_empty() && place.list == "initContainers" {
        notes.push(format!(
            "{} must run before the init container {}, which needs the files they copy in: move \
             them before it in initContainers",
            seed_names.join(", "),
            text(container.get("name"))
        ));
    }

    let pod = at_path(document, &place.pod)
        .and_then(Value::as_mapping_mut)
        .with_context(no_pod)?;
    if !volumes.is_empty() {
        list_at(pod, "volumes")?.extend(volumes);
    }
    if !seeds.is_empty() {
        // After the pod's own, which keep their places as the audit has them; by a name none of
        // its containers has, as strategic merge tells init containers apart by name.
        list_at(pod, "initContainers")?.extend(seeds);
    }
    match (owner, fs_group) {
        (Some(owner), None) => {
            let security = map_at(pod, "securityContext")?;
            security.insert("fsGroup".into(), Value::from(owner.gid));
        }
        (Some(owner), Some(group)) if group != u64::from(owner.gid) => notes.push(format!(
            "the pod's securityContext.fsGroup {group} is kept, and the files the app writes to \
             its new emptyDir volumes are that group's, not group {} as the audit proved them; \
             set fsGroup: {} if nothing else in the pod needs group {group}",
            owner.gid, owner.gid
        )),
        _ => {}
    }
    Ok((notes, seed_names, claims))
}

/// A PersistentVolumeClaim `name` of `size_mib` (at least 1 GiB, as storage classes round up),
/// one node's at a time, in the workload's namespace.
fn claim(name: &str, size_mib: u64, namespace: Option<&Value>) -> Value {
    let mut metadata = mapping([("name".into(), Value::from(name))]);
    if let (Some(namespace), Value::Mapping(m)) = (namespace, &mut metadata) {
        m.insert("namespace".into(), namespace.clone());
    }
    let storage = format!("{}Mi", size_mib.max(1024));
    let requests = mapping([("storage".into(), Value::from(storage))]);
    let spec = mapping([
        (
            "accessModes".into(),
            Value::Sequence(vec![Value::from("ReadWriteOnce")]),
        ),
        ("resources".into(), mapping([("requests".into(), requests)])),
    ]);
    mapping([
        ("apiVersion".into(), Value::from("v1")),
        ("kind".into(), Value::from("PersistentVolumeClaim")),
        ("metadata".into(), metadata),
        ("spec".into(), spec),
    ])
}

/// The init container `name` that fills the volume `volume` with a copy of the image's files at
/// `mount`'s path before the app starts: the app's `image` and `security` context (a read-only
/// root), the volume at /seed, the one place it writes. It copies entry by entry, as the app's
/// user may not set the times of a volume it does not own, and a volume seeded once only while it
/// is empty.
fn seed_container(
    mount: &Mount,
    name: &str,
    volume: &str,
    image: &Value,
    security: Option<&Value>,
) -> Value {
    let command = seed::command(&mount.path, mount.starts_with(), Copier::User);
    let security = security
        .cloned()
        .unwrap_or_else(|| mapping([("readOnlyRootFilesystem".into(), Value::Bool(true))]));
    let point = mapping([
        ("name".into(), Value::from(volume)),
        ("mountPath".into(), Value::from(SEED_AT)),
    ]);
    mapping([
        ("name".into(), Value::from(name)),
        ("image".into(), image.clone()),
        (
            "command".into(),
            Value::Sequence(command.into_iter().map(Value::from).collect()),
        ),
        ("securityContext".into(), security),
        ("volumeMounts".into(), Value::Sequence(vec![point])),
    ])
}

/// What to do for a mount that keeps state, patched as an emptyDir: it goes with the pod.
fn state_note(kind: &str, mount: &Mount, volume: &str) -> String {
    let fix = match kind {
        "StatefulSet" => format!(
            "replace it with a volumeClaimTemplates entry named {volume}, which gives each \
             replica a PersistentVolumeClaim of its own"
        ),
        _ => "mount a PersistentVolumeClaim there instead (a StatefulSet's volumeClaimTemplates \
              would give each replica its own)"
            .to_string(),
    };
    format!(
        "{} holds data meant to last, and its emptyDir volume {volume} is deleted with the pod: \
         {fix}",
        mount.path
    )
}

/// `base`, else `base-2`, `base-3`...: the first not `taken`, cut to the 63 characters of a DNS
/// label, as volume names must be.
fn unique(base: &str, taken: &[String]) -> String {
    let cut = |n: usize| base[..base.len().min(n)].trim_end_matches('-').to_string();
    let mut name = cut(63);
    let mut n = 2;
    while taken.contains(&name) {
        let suffix = format!("-{n}");
        name = cut(63 - suffix.len()) + &suffix;
        n += 1;
    }
    name
}

/// A kustomize patch of what the `patched` containers gained, in strategic-merge documents, one
/// per object: what picks the object (apiVersion, kind, metadata.name and namespace) and in its
/// pod spec the securityContext keys added (fsGroup), each patched container by name with its
/// read-only root and the volumeMounts it gained, the init containers added to fill volumes with
/// the image's files, and the volumes added. Strategic merge merges
/// containers by name, volumeMounts by mountPath and volumes by name, so each list gains entries
/// and keeps its own. Written in YAML whatever the manifests are written in: kustomize takes a
/// patch of several objects as a YAML stream.
pub(super) fn overlay(documents: &[Document], patched: &[Place]) -> String {
    let mut objects: Vec<(usize, &str)> = vec![];
    for place in patched {
        let object = (place.document, place.object.as_str());
        if !objects.contains(&object) {
            objects.push(object);
        }
    }
    let mut out = String::new();
    for (document, object) in objects {
        let places: Vec<&Place> = patched
            .iter()
            .filter(|p| p.document == document && p.object == object)
            .collect();
        let (before, after) = (&documents[document].original, &documents[document].value);
        let was = |path: &str, key: &str| get_path(before, path).and_then(|v| v.get(key));
        let now = |path: &str, key: &str| get_path(after, path).and_then(|v| v.get(key));
        let gained = |path: &str, key: &str| now(path, key).and_then(|n| added(was(path, key), n));

        let mut pod = Mapping::new();
        let pod_path = &places[0].pod;
        if let Some(security) = gained(pod_path, "securityContext") {
            pod.insert("securityContext".into(), security);
        }
        // Init containers merge into their own list, by name as the others; the seed containers
        // the patch added go in whole.
        let added_seeds = now(pod_path, "initContainers")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter(|c| {
                let name = text(c.get("name"));
                places.iter().any(|p| p.seeds.iter().any(|s| s == name))
            });
        for list in ["initContainers", "containers"] {
            let mut containers: Vec<Value> = places
                .iter()
                .filter(|place| place.list == list)
                .map(|place| {
                    let mut container = Mapping::new();
                    let name = now(&place.container, "name").cloned().unwrap_or_default();
                    container.insert("name".into(), name);
                    let read_only = mapping([("readOnlyRootFilesystem".into(), Value::Bool(true))]);
                    container.insert("securityContext".into(), read_only);
                    if let Some(mounts) = gained(&place.container, "volumeMounts") {
                        container.insert("volumeMounts".into(), mounts);
                    }
                    Value::Mapping(container)
                })
                .collect();
            if list == "initContainers" {
                containers.extend(added_seeds.clone().cloned());
            }
            if !containers.is_empty() {
                pod.insert(list.into(), Value::Sequence(containers));
            }
        }
        if let Some(volumes) = gained(pod_path, "volumes") {
            pod.insert("volumes".into(), volumes);
        }

        let mut metadata = Mapping::new();
        for key in ["name", "namespace"] {
            let value = now(object, "metadata").and_then(|m| m.get(key));
            if let Some(value) = value {
                metadata.insert(key.into(), value.clone());
            }
        }
        let mut patch = Mapping::new();
        for key in ["apiVersion", "kind"] {
            patch.insert(key.into(), now(object, key).cloned().unwrap_or_default());
        }
        patch.insert("metadata".into(), Value::Mapping(metadata));
        // The pod spec where the kind keeps it: `spec.template.spec` is {spec: {template: {spec}}}.
        let at = pod_spec_path(&places[0].kind).unwrap_or("spec");
        let (top, nested) = at.split_once('.').unwrap_or((at, ""));
        let inner = nested.rsplit('.').filter(|k| !k.is_empty());
        let spec = inner.fold(Value::Mapping(pod), |inner, key| {
            mapping([(key.to_string(), inner)])
        });
        patch.insert(top.into(), spec);
        if !out.is_empty() {
            out.push_str("---\n");
        }
        out.push_str(&yaml::block(&Value::Mapping(patch)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::audited;
    use super::super::{write, Style};
    use crate::model::{MountKind, MultiReport, Report};
    use crate::report::testdata;
    use crate::spec::SpecKind;

    /// A Service, then a Deployment whose `app` already mounts a cache and whose `sidecar` has
    /// nothing; comments in both documents.
    const MANIFESTS: &str = "\
# The shop's web app.
apiVersion: v1
kind: Service  # stays as written
metadata:
  name: web
spec:
  ports: [{port: 80}]
---
# The app itself.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: app:1  # pinned
          volumeMounts:
            - name: cache
              mountPath: /var/cache/app
        - name: sidecar
          image: side:1
      volumes:
        - name: cache
          emptyDir: {}
      restartPolicy: Always
";

    /// The Deployment as the patch writes it, `app` proven with its two tmpfs mounts owned by
    /// uid 1000: every key where it was, what the fix adds after.
    const PATCHED: &str = "\
---
# The app itself.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: app
          image: app:1
          volumeMounts:
            - name: cache
              mountPath: /var/cache/app
            - name: rofs-var-lib-app
              mountPath: /var/lib/app
            - name: rofs-var-run-app
              mountPath: /var/run/app
          securityContext:
            readOnlyRootFilesystem: true
        - name: sidecar
          image: side:1
      volumes:
        - name: cache
          emptyDir: {}
        - name: rofs-var-lib-app
          emptyDir:
            medium: Memory
            sizeLimit: 16Mi
        - name: rofs-var-run-app
          emptyDir:
            medium: Memory
            sizeLimit: 16Mi
      restartPolicy: Always
      securityContext:
        fsGroup: 1000
";

    const APP: &str = "spec.template.spec.containers[0]";
    const SIDECAR: &str = "spec.template.spec.containers[1]";

    /// `app` proven with /var/lib/app and /var/run/app (16 MiB tmpfs, owner 1000:1000), and
    /// `sidecar` unproven.
    fn shop() -> MultiReport {
        let (proven, _) = testdata::proven();
        let (unproven, _) = testdata::unproven();
        audited([
            ("Deployment/web/app", APP.into(), proven),
            ("Deployment/web/sidecar", SIDECAR.into(), unproven),
        ])
    }

    fn kubernetes(text: &str, audited: &MultiReport, style: Style) -> (String, Vec<String>) {
        let (_, profile) = testdata::proven();
        write(SpecKind::Kubernetes, text, audited, &profile, style, None).unwrap()
    }

    fn yaml(text: &str) -> serde_yaml_ng::Value {
        serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    #[test]
    fn a_proven_container_gets_its_fix_in_place_and_the_rest_stays_as_written() {
        let (out, notes) = kubernetes(MANIFESTS, &shop(), Style::Full);
        let (service, deployment) = MANIFESTS.split_at(MANIFESTS.find("---").unwrap());
        let (kept, patched) = out.split_at(service.len());
        // The document the fix does not touch keeps its comments; the one it changes keeps
        // those that head it, and only those.
        assert_eq!(kept, service);
        assert_eq!(patched, PATCHED, "{patched}");
        assert!(deployment.contains("# pinned") && !patched.contains("# pinned"));
        assert_eq!(
            notes,
            [
                "Deployment/web/sidecar: not patched: no read-only run passed with the planned \
              mounts (see its report)"
            ]
        );
    }

    #[test]
    fn a_patched_manifest_patched_again_is_the_same_text() {
        let (once, _) = kubernetes(MANIFESTS, &shop(), Style::Full);
        let (twice, notes) = kubernetes(&once, &shop(), Style::Full);
        assert_eq!(twice, once);
        assert_eq!(notes.len(), 1, "only the unproven sidecar: {notes:?}");
        // Its kustomize patch still says which container runs read-only, and adds nothing.
        let (overlay, _) = kubernetes(&once, &shop(), Style::Overlay);
        assert_eq!(
            overlay,
            "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      containers:
        - name: app
          securityContext:
            readOnlyRootFilesystem: true
"
        );
    }

    #[test]
    fn a_read_only_container_with_its_mounts_is_left_byte_for_byte() {
        let text = MANIFESTS
            .replace(
                "mountPath: /var/cache/app\n",
                "mountPath: /var/cache/app\n            - {name: lib, mountPath: /var/lib/app/}\n            - {name: run, mountPath: /var/run/app}\n          securityContext: {readOnlyRootFilesystem: true}  # done\n",
            )
            .replace(
                "      restartPolicy",
                "        - {name: lib, emptyDir: {}}\n        - {name: run, emptyDir: {}}\n      securityContext: {fsGroup: 1000}\n      restartPolicy",
            );
        let (proven, _) = testdata::proven();
        let (out, notes) = kubernetes(
            &text,
            &audited([("Deployment/web/app", APP.into(), proven)]),
            Style::Full,
        );
        assert_eq!((out.as_str(), notes.len()), (text.as_str(), 0));
    }

    #[test]
    fn a_list_in_json_and_objects_of_one_name_in_several_documents_each_get_their_own_fix() {
        // One Deployment name in two namespaces: both containers are at the same place of their
        // document, and the audit's order tells them apart.
        let deployment = |namespace: &str| {
            format!(
                r#"{{"apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {{"name": "web", "namespace": "{namespace}"}},
  "spec": {{"template": {{"spec": {{"containers": [{{"name": "app", "image": "app:1"}}]}}}}}}}}"#
            )
        };
        let text = format!(
            "{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n  {{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\"}},\n  {}]}}\n{}\n",
            deployment("a"),
            deployment("b")
        );
        let (proven, _) = testdata::proven();
        let (unproven, _) = testdata::unproven();
        let at = "spec.template.spec.containers[0]";
        let targets = audited([
            ("Deployment/web/app", format!("items[1].{at}"), unproven),
            ("Deployment/web/app", at.into(), proven),
        ]);
        let (out, notes) = kubernetes(&text, &targets, Style::Full);
        assert_eq!(notes.len(), 1, "{notes:?}");
        let documents: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&out)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        let [list, second] = &documents[..] else {
            panic!("{out}")
        };
        // The List is left as the file has it, the second document written anew.
        assert!(out.starts_with(&text[..text.find("\n{").unwrap()]), "{out}");
        let container =
            |d: &serde_json::Value| d["spec"]["template"]["spec"]["containers"][0].clone();
        assert_eq!(
            container(&list["items"][1]),
            serde_json::json!({"name": "app", "image": "app:1"})
        );
        let app = container(second);
        assert_eq!(app["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(app["volumeMounts"][1]["mountPath"], "/var/run/app");
        let pod = &second["spec"]["template"]["spec"];
        assert_eq!(pod["volumes"][0]["emptyDir"]["sizeLimit"], "16Mi");
        assert_eq!(pod["securityContext"]["fsGroup"], 1000);
        assert!(out.ends_with("}\n"), "{out}");
    }

    /// `report` with its first mount keeping state, as a volume.
    fn with_state(mut report: Report) -> Report {
        let state = &mut report.verification.as_mut().unwrap().minimal_mounts[0];
        (state.kind, state.state) = (MountKind::Volume, true);
        report
    }

    #[test]
    fn volume_names_are_unique_in_the_pod_and_state_gets_a_disk_and_a_note() {
        // A volume of the fix's name is there already, for another path; both containers of
        // one pod need the same paths, and each gets volumes of its own.
        let text = "\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  template:
    spec:
      securityContext: {fsGroup: 2000}
      containers:
        - {name: one, image: db:1, volumeMounts: [{name: rofs-var-run-app, mountPath: /srv}]}
        - {name: two, image: db:1}
      volumes: [{name: rofs-var-run-app, emptyDir: {}}]
";
        let (proven, _) = testdata::proven();
        let at = |n: usize| format!("spec.template.spec.containers[{n}]");
        let targets = audited([
            ("StatefulSet/db/one", at(0), with_state(proven.clone())),
            ("StatefulSet/db/two", at(1), proven),
        ]);
        let (out, notes) = kubernetes(text, &targets, Style::Full);
        let pod = &yaml(&out)["spec"]["template"]["spec"];
        let names = |list: &serde_yaml_ng::Value| -> Vec<String> {
            let list = list.as_sequence().unwrap().iter();
            list.map(|v| v["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            names(&pod["volumes"]),
            [
                "rofs-var-run-app",
                "rofs-var-lib-app",
                "rofs-var-run-app-2",
                "rofs-var-lib-app-2",
                "rofs-var-run-app-3"
            ]
        );
        assert_eq!(
            names(&pod["containers"][1]["volumeMounts"]),
            ["rofs-var-lib-app-2", "rofs-var-run-app-3"]
        );
        // State on the node's disk, not in memory.
        assert_eq!(pod["volumes"][1]["emptyDir"], yaml("{}"));
        assert_eq!(pod["volumes"][3]["emptyDir"]["medium"], "Memory");
        // The pod's own fsGroup stays.
        assert_eq!(pod["securityContext"], yaml("fsGroup: 2000"));
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(
            notes[0].starts_with("StatefulSet/db/one: /var/lib/app holds data meant to last, and its emptyDir volume rofs-var-lib-app is deleted with the pod: replace it with a volumeClaimTemplates entry named rofs-var-lib-app"),
            "{notes:?}"
        );
        assert!(
            notes[1]
                .starts_with("StatefulSet/db/one: the pod's securityContext.fsGroup 2000 is kept"),
            "{notes:?}"
        );
        assert!(
            notes[2]
                .starts_with("StatefulSet/db/two: the pod's securityContext.fsGroup 2000 is kept"),
            "{notes:?}"
        );
    }

    /// A Deployment whose pod runs a migration first, as app:1 with user 1000.
    const MIGRATING: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: app:1
          command: [migrate]
      containers:
        - name: app
          image: app:1
          securityContext:
            runAsUser: 1000
";

    #[test]
    fn a_mount_that_starts_with_the_images_files_gets_an_init_container_that_copies_them() {
        let (seeded, _) = testdata::seeded();
        let targets = audited([("Deployment/web/app", APP.into(), seeded)]);
        let (out, notes) = kubernetes(MIGRATING, &targets, Style::Full);
        let (deployment, claim) = out
            .split_once("\n---\n")
            .expect("a claim after the manifests");
        let pod = &yaml(deployment)["spec"]["template"]["spec"];
        let init = pod["initContainers"].as_sequence().unwrap();
        let names: Vec<&str> = init.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "migrate",
                "seed-rofs-scratch",
                "seed-rofs-var-cache-app",
                "seed-rofs-var-lib-app"
            ]
        );
        assert_eq!(
            init[2],
            yaml(
                r#"
name: seed-rofs-var-cache-app
image: app:1
command: ["find", "/var/cache/app/.", "-mindepth", "1", "-maxdepth", "1", "-exec", "cp", "-a", "{}", "/seed/", ";"]
securityContext: {runAsUser: 1000, readOnlyRootFilesystem: true}
volumeMounts: [{name: rofs-var-cache-app, mountPath: /seed}]
"#
            )
        );
        assert_eq!(init[3]["command"][0], "sh");
        let volumes = pod["volumes"].as_sequence().unwrap();
        let kinds: Vec<(&str, &serde_yaml_ng::Value)> = volumes
            .iter()
            .map(|v| (v["name"].as_str().unwrap(), &v["emptyDir"]))
            .collect();
        assert_eq!(kinds[0], ("rofs-scratch", &yaml("{}")));
        assert_eq!(kinds[1].1["medium"], "Memory");
        // The data the image ships goes on a claim of its own, which the seed container fills.
        assert_eq!(
            volumes[2],
            yaml("{name: rofs-var-lib-app, persistentVolumeClaim: {claimName: rofs-var-lib-app}}")
        );
        let claim = yaml(claim);
        assert_eq!(claim["kind"], "PersistentVolumeClaim");
        assert_eq!(claim["metadata"]["name"], "rofs-var-lib-app");
        assert_eq!(claim["spec"]["accessModes"][0], "ReadWriteOnce");
        // The new claim needs a word; the fresh copies go with the pod by design.
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("PersistentVolumeClaim rofs-var-lib-app is new"));

        // Patched again, nothing changes.
        assert_eq!(kubernetes(&out, &targets, Style::Full).0, out);
        // The kustomize patch adds the seed containers whole, beside the pod's own.
        let (overlay, _) = kubernetes(MIGRATING, &targets, Style::Overlay);
        let patch = yaml(&overlay);
        let added = &patch["spec"]["template"]["spec"]["initContainers"];
        assert_eq!(added.as_sequence().map(Vec::len), Some(3), "{overlay}");
        assert_eq!(added[0], init[1]);
    }

    #[test]
    fn a_kustomize_patch_holds_what_picks_each_object_and_what_the_fix_adds() {
        let (out, _) = kubernetes(MANIFESTS, &shop(), Style::Overlay);
        assert_eq!(
            out,
            "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      securityContext:
        fsGroup: 1000
      containers:
        - name: app
          securityContext:
            readOnlyRootFilesystem: true
          volumeMounts:
            - name: rofs-var-lib-app
              mountPath: /var/lib/app
            - name: rofs-var-run-app
              mountPath: /var/run/app
      volumes:
        - name: rofs-var-lib-app
          emptyDir:
            medium: Memory
            sizeLimit: 16Mi
        - name: rofs-var-run-app
          emptyDir:
            medium: Memory
            sizeLimit: 16Mi
"
        );
    }

    #[test]
    fn a_container_the_manifests_do_not_have_where_the_report_says_is_named() {
        let (proven, _) = testdata::proven();
        let targets = audited([("Deployment/web/api", APP.into(), proven)]);
        let (out, notes) = kubernetes(MANIFESTS, &targets, Style::Full);
        assert_eq!(out, MANIFESTS);
        assert_eq!(
            notes,
            [
                "Deployment/web/api: not patched: the manifests have no Deployment web with the \
              container api at spec.template.spec.containers[0]; merge its fix by hand"
            ]
        );
    }

    #[test]
    fn objects_of_one_name_in_several_documents_are_told_apart_by_their_order() {
        let document = |namespace: &str| {
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: {namespace}}}\nspec:\n  template:\n    spec:\n      containers: [{{name: app, image: app:1}}]\n"
            )
        };
        let text = format!("{}---\n{}", document("a"), document("b"));
        let (proven, _) = testdata::proven();
        let (unproven, _) = testdata::unproven();
        let targets = audited([
            ("Deployment/web/app", APP.into(), unproven),
            ("Deployment/web/app", APP.into(), proven),
        ]);
        let (out, _) = kubernetes(&text, &targets, Style::Full);
        let (a, b) = out.split_once("---\n").unwrap();
        assert_eq!(a, document("a"));
        let b = yaml(b);
        assert_eq!(b["metadata"]["namespace"], "b");
        let app = &b["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(app["securityContext"]["readOnlyRootFilesystem"], true);
    }

    #[test]
    fn a_cronjobs_kustomize_patch_nests_its_pod_spec_where_the_kind_keeps_it() {
        // In a List in JSON: the patch is YAML all the same, as kustomize takes several objects.
        let text = r#"{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
   "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": {"spec": {
     "securityContext": {"fsGroup": 1000},
     "containers": [{"name": "job", "image": "job:1"}]}}}}}}]}
"#;
        let (proven, _) = testdata::proven();
        let at = "items[0].spec.jobTemplate.spec.template.spec.containers[0]";
        let targets = audited([("CronJob/nightly/job", at.into(), proven)]);
        let (out, notes) = kubernetes(text, &targets, Style::Overlay);
        assert_eq!(notes, Vec::<String>::new());
        let patch = yaml(&out);
        assert_eq!(patch["kind"], "CronJob");
        assert!(patch["spec"].get("schedule").is_none(), "{out}");
        let pod = &patch["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        // The pod's fsGroup is the mounts' group already: nothing to add there.
        assert!(pod.get("securityContext").is_none(), "{out}");
        assert_eq!(pod["containers"][0]["name"], "job");
        assert_eq!(pod["volumes"].as_sequence().map(Vec::len), Some(2), "{out}");
    }
}
