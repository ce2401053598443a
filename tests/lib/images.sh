# Shared by tests/seed/build-images.sh and tests/real/build-images.sh (sourced, not run).
# shellcheck shell=bash

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
