# Shared by tests/seed/build-images.sh and tests/real/build-images.sh (sourced, not run).
# shellcheck shell=bash

SEED_CACHE=${SEED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rofs-audit-seed}
# Wheels for the image's interpreter (Debian bookworm: CPython 3.11, glibc x86_64), not the host's.
# shellcheck disable=SC2034 # used by the scripts that source this
PIP_TARGET=(--only-binary=:all: --python-version 3.11 --implementation cp --abi cp311
            --platform manylinux2014_x86_64)

# VERIFY=1 with --verify, which also runs each app image and checks what the tests rely on.
# shellcheck disable=SC2034 # VERIFY is read by the scripts that source this
parse_args() {
  VERIFY=0
  case "${1:-}" in
    --verify) VERIFY=1 ;;
    "") ;;
    *) echo "usage: $0 [--verify]" >&2; exit 2 ;;
  esac
}

# A scratch directory ($WORK, named after $1), and the containers and volumes a --verify run
# records in CONTAINERS and VOLUMES: all removed however the script ends.
make_work() {
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  CONTAINERS=()
  VOLUMES=()
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

cleanup() {
  if ((${#CONTAINERS[@]})); then docker rm -f -v "${CONTAINERS[@]}" >/dev/null 2>&1 || true; fi
  if ((${#VOLUMES[@]})); then docker volume rm -f "${VOLUMES[@]}" >/dev/null 2>&1 || true; fi
  # A package script that started a daemon in the chroot would keep it busy: only processes
  # whose root is our own chroot are ended.
  chroot_pids "$WORK/rootfs" | while read -r p; do kill -9 "$p" 2>/dev/null || true; done
  # An interrupted debootstrap leaves /proc and /sys mounted inside the target.
  awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$WORK"
}

# PIDs of processes whose root directory is $1.
chroot_pids() {
  local dir=$1 p root
  [[ -d $dir ]] || return 0
  dir=$(readlink -f "$dir")
  for p in /proc/[0-9]*; do
    root=$(readlink "$p/root" 2>/dev/null) || continue
    [[ $root == "$dir" ]] && echo "${p#/proc/}"
  done
  return 0
}

log() { printf '==> %s\n' "$*"; }
# Runs "$@" and reports its wall time.
timed() {
  local t0=$EPOCHREALTIME
  "$@"
  awk -v a="$t0" -v b="$EPOCHREALTIME" -v s="$1" 'BEGIN { printf "    %s: %.1fs\n", s, b - a }'
}
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# The Debian mirror apt uses here (SEED_DEBIAN_MIRROR overrides it), for debootstrap.
debian_mirror() {
  local m
  m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
        2>/dev/null | grep -v '^[[:space:]]*#' | grep -oE 'https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
        | head -n1 | tr -d '[:space:]') || true
  echo "${SEED_DEBIAN_MIRROR:-${m:-http://deb.debian.org/debian}}"
}

# Imports the rootfs tarball $1 as the base image $BASE.
import_base() {
  docker import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
    --change "LABEL $LABEL" "$1" "$BASE" >/dev/null
}

# Downloads into the cache the wheels the requirements file $1 pins (from $2, for the log), once
# per its content.
wheels() {
  local req=$1 pinned_by=$2 dir=$SEED_CACHE/wheels stamp
  stamp=$dir/.complete-$(sha256sum "$req" | cut -c1-16)
  [[ -e $stamp ]] && { log "wheels pinned by $pinned_by: cached"; return 0; }
  log "downloading wheels pinned by $pinned_by"
  python3 -m pip download -q "${PIP_TARGET[@]}" --require-hashes -r "$req" -d "$dir"
  touch "$stamp"
}

# Builds the context $2 as $1 with the classic builder, which every engine from API 1.41 has;
# the log is shown only when it fails.
docker_build() {
  local tag=$1 ctx=$2
  DOCKER_BUILDKIT=0 docker build --force-rm -t "$tag" "$ctx" >"$WORK/build.log" 2>&1 ||
    { tail -n 30 "$WORK/build.log" >&2; return 1; }
}

running() { [[ $(docker inspect -f '{{.State.Running}}' "$1") == true ]]; }

# Prints the HTTP status of GET path on container port $2, waiting up to 15s for the server.
http_status() {
  local id=$1 port=$2 path=$3 addr code i
  for ((i = 0; i < 30; i++)); do
    running "$id" || { echo exited; return; }
    if addr=$(docker port "$id" "$port/tcp" 2>/dev/null | head -n1) && [[ -n $addr ]]; then
      code=$(curl -sS -o /dev/null -w '%{http_code}' "http://$addr$path" 2>/dev/null) || true
      if [[ $code != 000 ]]; then echo "$code"; return; fi
    fi
    sleep 0.5
  done
  echo timeout
}
