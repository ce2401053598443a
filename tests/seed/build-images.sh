#!/usr/bin/env bash
# Builds the seed images the auditor is tested against, without any registry:
#   rofs-audit-seed/base:bookworm    debootstrap'd Debian with python3 (docker import)
#   rofs-audit-seed/webhook:before   Flask app started by `uv run` (fails read-only)
#   rofs-audit-seed/webhook:after    same app started by the venv's python (survives read-only)
# Only missing tags are built; remove a tag (docker rmi) to rebuild it.
# Downloads (rootfs tarball, wheels, uv) are cached in $SEED_CACHE, outside the repo.
# --verify also runs each app image and checks the behaviour the tests rely on.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BASE=rofs-audit-seed/base:bookworm
BEFORE=rofs-audit-seed/webhook:before
AFTER=rofs-audit-seed/webhook:after
LABEL=dev.rofs-audit.test=1
UV_VERSION=0.13.9
PACKAGES=python3,python3-venv
# What rootfs_tarball does to the debootstrap'd tree; change it when that changes.
RECIPE=keep-package-files-1

# shellcheck source=tests/lib/images.sh
source "$HERE/../lib/images.sh"
parse_args "$@"
make_work rofs-audit-seed
# Named after the package list and the recipe, so a change of either builds a new tarball.
TARBALL=$SEED_CACHE/rootfs-bookworm-$(printf '%s\n' "$PACKAGES" "$RECIPE" | sha256sum | cut -c1-12).tar

rootfs_tarball() {
  local dir=$WORK/rootfs mirror
  mirror=$(debian_mirror)
  log "debootstrap bookworm (minbase + $PACKAGES) from $mirror"
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$dir" "$mirror" \
    >"$WORK/debootstrap.log" 2>&1 || { tail -n 30 "$WORK/debootstrap.log" >&2; return 1; }
  # Only apt's download state goes (the package lists and the .debs, which no package owns).
  # Nothing the packages install or their scripts leave is deleted (logs, docs, locales): a
  # `RUN apt-get install` keeps them too, and the tests must see what users' images hold.
  rm -rf "$dir"/var/cache/apt/* "$dir"/var/lib/apt/lists/*
  mkdir -p "$SEED_CACHE"
  tar --numeric-owner -C "$dir" -cf "$TARBALL.partial" .
  mv "$TARBALL.partial" "$TARBALL"
}

uv_binary() {
  local dir=$SEED_CACHE/uv
  log "downloading uv $UV_VERSION wheel"
  python3 -m pip download -q "${PIP_TARGET[@]}" --no-deps -d "$dir" "uv==$UV_VERSION"
  python3 - "$dir" "$UV_VERSION" <<'PY'
import glob, os, sys, zipfile
d, v = sys.argv[1:]
whl = zipfile.ZipFile(glob.glob(f"{d}/uv-{v}-*.whl")[0])
with open(f"{d}/uv-{v}.partial", "wb") as out:
    out.write(whl.read(f"uv-{v}.data/scripts/uv"))
os.chmod(f"{d}/uv-{v}.partial", 0o755)
os.replace(f"{d}/uv-{v}.partial", f"{d}/uv-{v}")
PY
}

build_before() {
  local ctx=$WORK/ctx-before uv=$SEED_CACHE/uv/uv-$UV_VERSION
  [[ -x $uv ]] || timed uv_binary
  mkdir -p "$ctx/app/app" "$ctx/wheels"
  cp "$HERE/before.Dockerfile" "$ctx/Dockerfile"
  cp "$uv" "$ctx/uv"
  cp "$HERE"/app/{pyproject.toml,uv.lock} "$ctx/app/"
  cp "$HERE"/app/app/*.py "$ctx/app/app/"
  UV_NO_CACHE=1 "$uv" export --quiet --frozen --no-dev --no-emit-project --no-header \
    --project "$ctx/app" -o "$ctx/requirements.txt"
  timed wheels "$ctx/requirements.txt" uv.lock
  # Only the pinned wheels go in: the cache may hold older versions.
  sed -nE 's/^([A-Za-z0-9_.-]+)==([^ ]+).*/\1 \2/p' "$ctx/requirements.txt" | while read -r n v; do
    n=$(tr '[:upper:]-' '[:lower:]_' <<<"$n")
    find "$SEED_CACHE/wheels" -maxdepth 1 -iname "${n}-${v}-*.whl" -exec cp {} "$ctx/wheels/" \;
  done
  log "docker build $BEFORE"
  timed docker_build "$BEFORE" "$ctx"
}

build_after() {
  mkdir -p "$WORK/ctx-after"
  cp "$HERE/after.Dockerfile" "$WORK/ctx-after/Dockerfile"
  log "docker build $AFTER"
  timed docker_build "$AFTER" "$WORK/ctx-after"
}

# Starts a labelled container into $CID and records it for cleanup.
start() {
  CID=$(docker run -d --label "$LABEL" -p 127.0.0.1::5000 "$@")
  CONTAINERS+=("$CID")
}

verify() {
  local st fail=0
  log "verify $BEFORE, writable root"
  start "$BEFORE"
  st=$(http_status "$CID" 5000 /health); echo "    GET /health: $st"; [[ $st == 200 ]] || fail=1
  docker diff "$CID" | sort | sed 's/^/    /'
  docker diff "$CID" | grep -qx 'A /home/appuser/.cache/uv' || fail=1
  log "verify $BEFORE, --read-only (must fail)"
  start --read-only "$BEFORE"
  st=$(http_status "$CID" 5000 /health); echo "    GET /health: $st"; [[ $st == exited ]] || fail=1
  docker logs "$CID" 2>&1 | sed 's/^/    /'
  docker logs "$CID" 2>&1 | grep -q 'Read-only file system' || fail=1
  log "verify $AFTER, --read-only"
  start --read-only "$AFTER"
  st=$(http_status "$CID" 5000 /health); echo "    GET /health: $st"; [[ $st == 200 ]] || fail=1
  st=$(http_status "$CID" 5000 /health/ready); echo "    GET /health/ready: $st"; [[ $st == 200 ]] || fail=1
  if docker logs "$CID" 2>&1 | grep -i 'read-only'; then fail=1; fi
  docker logs "$CID" 2>&1 | sed 's/^/    /'
  ((fail == 0)) || { echo "verification FAILED" >&2; return 1; }
  log "verified"
}

T0=$EPOCHREALTIME
# Each image is built from the previous one, so a fresh one makes the later ones stale.
stale=0
if have_image "$BASE"; then
  log "$BASE: present"
else
  if [[ -s $TARBALL ]]; then log "rootfs tarball: cached"; else timed rootfs_tarball; fi
  log "docker import $BASE"
  timed import_base "$TARBALL"
  stale=1
fi
if ((stale)) || ! have_image "$BEFORE"; then
  docker rmi "$BEFORE" "$AFTER" >/dev/null 2>&1 || true
  build_before
  stale=1
else
  log "$BEFORE: present"
fi
if ((stale)) || ! have_image "$AFTER"; then build_after; else log "$AFTER: present"; fi
awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "==> images ready in %.1fs\n", b - a }'
docker image ls --format '    {{.Repository}}:{{.Tag}}  {{.Size}}' --filter 'reference=rofs-audit-seed/*'
((VERIFY == 0)) || verify
