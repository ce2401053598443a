#!/usr/bin/env bash
# Benchmark: `rofs-audit audit` against a plain docker-CLI script doing the same work, and the
# trace's effect on the app's own startup time. It prints figures and asserts nothing about them
# (it is not a timed test); it fails only when a step fails.
#
#   benches/audit-vs-docker.sh
#
# Needs: a local Docker Engine (nothing is pulled: the image is built FROM scratch around the
# static test fixture), root (overlay tracing reads the engine's storage), cargo, curl, jq.
#
# Settings (environment):
#   ROUNDS=5            interleaved rounds of audit vs the docker CLI
#   STARTUP_ROUNDS=31   interleaved rounds of `rofs-audit trace` vs `docker run` (startup time)
#   FILES=200           files the app writes into its cache at startup
#   IDLE=0s             --idle for audit, and the baseline's sleep in each of its runs (see below)
#   STOP_TIMEOUT=10     seconds between SIGTERM and SIGKILL, for audit and `docker stop -t`
#   CARGO_TARGET_DIR    where cargo builds (default: the repo's target/; the fixture goes to
#                       its fixture/ subdirectory, as the tests build it)
#   IMAGE=rofs-audit-bench/app:latest   the benchmark image's tag (the only thing left behind)
#
# What is compared, per round, in alternating order so that drift cancels:
#   audit:    rofs-audit audit IMAGE --port 8080 --probe /health --idle $IDLE --profile docker
#             (the trace, and the read-only proof)
#   baseline: docker run -d (port published on 127.0.0.1), poll /health until 200, GET it once,
#             sleep $IDLE, docker stop, docker diff, docker rm; then docker run -d --read-only
#             with the tmpfs mounts the audit suggested, poll, GET once, sleep $IDLE, stop, rm.
#
# Why IDLE=0s: the idle phase is a fixed sleep that neither side can shorten. Counting it adds the
# same seconds to both sides and pulls the ratio toward 1, which flatters the tool; without it the
# ratio is the cost of the work itself, the stricter figure. (With IDLE=2s, audit's default, the
# baseline sleeps 2s in each of its two runs, while audit sleeps in every run it makes.)
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-5}
STARTUP_ROUNDS=${STARTUP_ROUNDS:-31}
FILES=${FILES:-200}
IDLE=${IDLE:-0s}
STOP_TIMEOUT=${STOP_TIMEOUT:-10}
IMAGE=${IMAGE:-rofs-audit-bench/app:latest}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PORT=8080
PROBE=/health
LABEL=dev.rofs-audit.test=1
STARTUP_TIMEOUT_S=30

for tool in cargo docker curl jq awk tar; do
    command -v "$tool" >/dev/null || { echo "bench: needs $tool on PATH" >&2; exit 2; }
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $STARTUP_ROUNDS =~ ^[1-9][0-9]*$ && $FILES =~ ^[0-9]+$ ]] || {
    echo "bench: ROUNDS, STARTUP_ROUNDS and FILES must be whole numbers" >&2
    exit 2
}
[[ $STOP_TIMEOUT =~ ^[0-9]+$ ]] || { echo "bench: STOP_TIMEOUT is whole seconds" >&2; exit 2; }
[[ $IDLE =~ ^[0-9]+(\.[0-9]+)?(ms|s)$ ]] || { echo "bench: IDLE is like 0s, 500ms or 2s" >&2; exit 2; }
if [[ $IDLE == *ms ]]; then
    IDLE_SLEEP=$(awk -v ms="${IDLE%ms}" 'BEGIN { printf "%.3f", ms / 1000 }')
else
    IDLE_SLEEP=${IDLE%s}
fi

load() { cut -d' ' -f1 /proc/loadavg; }
# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_scratch bench
IMAGES=("$IMAGE")

# ---------------------------------------------------------------------------------------------
# Build: rofs-audit, the static fixture (as tests/common/mod.rs builds it), the image.

log "== building rofs-audit (release) and the fixture"
# The revision that is built (others may commit while this runs).
revision=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock tests/fixture 2>/dev/null) ]]; then
    revision+=" + uncommitted changes"
fi
build_binaries

# The app: runs as UID 1000, reads its config from /etc/app and its assets from /app/static,
# and at startup writes a pid file and a cache of $FILES files into /var/run/app (its own
# directory in the image; fatal when they fail), takes a short-lived lock file there, and
# writes a usage hint into /tmp that it does without, silently, when it cannot (tolerated).
writes="/var/run/app/app.pid!"
for ((i = 0; i < FILES; i++)); do
    writes+=$(printf ',/var/run/app/cache/entry-%03d.bin=4096!' "$i")
done
writes+=",/tmp/app-usage.json=256~"

log "== building $IMAGE"
ctx=$WORK/context
rootfs=$ctx/rootfs
mkdir -p "$rootfs"/{app/static,etc/app,var/run/app,tmp}
install -m 0755 "$FIXTURE" "$rootfs/app/fixture"
printf 'listen = "0.0.0.0:%s"\ncache = "/var/run/app/cache"\n' "$PORT" >"$rootfs/etc/app/app.conf"
printf '<!doctype html><title>app</title>\n' >"$rootfs/app/static/index.html"
printf 'body { margin: 0 }\n' >"$rootfs/app/static/app.css"
chmod 0644 "$rootfs/etc/app/app.conf" "$rootfs/app/static/"*
chmod 0755 "$rootfs" "$rootfs"/{app,app/static,etc,etc/app,var,var/run,var/run/app}
chmod 1777 "$rootfs/tmp"
chown -R 0:0 "$rootfs"
chown 1000:1000 "$rootfs/var/run/app"
# Reproducible (names sorted, times zeroed), so an unchanged fixture hits the build cache.
tar --sort=name --mtime=@0 --numeric-owner -C "$rootfs" -cf "$ctx/rootfs.tar" .
cat >"$ctx/Dockerfile" <<EOF
FROM scratch
ADD rootfs.tar /
ENV FIXTURE_STARTUP_WRITES=$writes
ENV FIXTURE_TRANSIENT_WRITES=/var/run/app/startup.lock!
USER 1000
EXPOSE $PORT
ENTRYPOINT ["/app/fixture"]
LABEL $LABEL
EOF
old_id=$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
DOCKER_BUILDKIT=0 docker build -q -t "$IMAGE" "$ctx" >/dev/null
new_id=$(docker image inspect --format '{{.Id}}' "$IMAGE")
if [[ -n $old_id && $old_id != "$new_id" ]]; then
    docker image rm "$old_id" >/dev/null 2>&1 || true
fi
rm -rf "$ctx"

# ---------------------------------------------------------------------------------------------
# The two sides.

# Polls GET $PROBE on 127.0.0.1:PORT every 50 ms (as rofs-audit does) until it answers 200.
wait_200() {
    local url=http://127.0.0.1:$1$PROBE code deadline
    deadline=$(($(now_us) + STARTUP_TIMEOUT_S * 1000000))
    while (($(now_us) < deadline)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
        [[ $code == 200 ]] && return 0
        sleep 0.05
    done
    return 1
}

# One run of the image with the docker CLI: run, wait for the probe, ask it once, idle, stop,
# `docker diff` (after the stop, so that it sees shutdown writes, as the trace does) for the
# writable run, rm. Extra arguments go to `docker run`.
docker_cycle() {
    local diff=$1 id mapping port start
    shift
    start=$(now_us)
    id=$(docker run -d --label "$LABEL" -p "127.0.0.1::$PORT" "$@" "$IMAGE")
    mapping=$(docker port "$id" "$PORT/tcp")
    port=${mapping%%$'\n'*}
    port=${port##*:}
    if ! wait_200 "$port"; then
        docker logs "$id" >&2 || true
        die "the baseline's container never answered $PROBE (docker run $*)"
    fi
    curl -sf -o /dev/null --max-time 10 "http://127.0.0.1:$port$PROBE" ||
        die "the baseline's probe failed after the app was ready (docker run $*)"
    sleep "$IDLE_SLEEP"
    docker stop -t "$STOP_TIMEOUT" "$id" >/dev/null
    if [[ $diff == diff ]]; then
        docker diff "$id" >"$WORK/diff.txt"
    fi
    docker rm -v "$id" >/dev/null
    echo "$diff $(($(now_us) - start))" >>"$WORK/cycles"
}

baseline() {
    docker_cycle diff
    docker_cycle no-diff --read-only "${TMPFS_ARGS[@]}"
}

AUDIT_ARGS=(audit "$IMAGE" --port "$PORT" --probe "$PROBE" --idle "$IDLE"
    --stop-timeout "${STOP_TIMEOUT}s" --profile docker --fail-on never --format json)

audit() {
    "$BIN" "${AUDIT_ARGS[@]}" -o "$1"
}

# The wall time of a command, in ms (to 0.1 ms), on stdout; its own output goes to stderr.
timed() {
    local start end
    start=$(now_us)
    "$@" >&2
    end=$(now_us)
    awk -v us="$((end - start))" 'BEGIN { printf "%.1f\n", us / 1000 }'
}

no_leftovers() {
    local left
    left=$(docker ps -aq --filter "ancestor=$IMAGE")
    [[ -z $left ]] || die "containers of $IMAGE left behind after $1: $left"
}

# ---------------------------------------------------------------------------------------------
# Warm-up (untimed): one audit, whose suggestion the baseline then uses, and one baseline.

LOAD_START=$(load)
log "== warm-up audit"
audit "$WORK/warmup.json"
no_leftovers "the warm-up audit"
report=$WORK/warmup.json
verdict=$(jq -r '.verdict' "$report")
tracing=$(jq -r '.tracing.mode' "$report")
verify_runs=$(jq -r '.verification.run_count' "$report")
verify_jobs=$(jq -r '.verification.jobs' "$report")
verify_passed=$(jq -r '.verification.passed' "$report")
mode_desc="trace + read-only proof ($verify_runs proof runs, the first alongside the trace, up to $verify_jobs at a time, passed: $verify_passed)"
# The proof's minimal mounts when it passed: that is the fix it stands behind.
mounts_from='if .verification.passed then .verification.minimal_mounts else .mounts end'
mapfile -t TMPFS < <(jq -r "($mounts_from)[] | select(.kind == \"tmpfs\")
    | \"\(.path):\((.options + [\"size=\(.size_mib)m\"]) | join(\",\"))\"" "$report")
if jq -e "[($mounts_from)[] | select(.kind != \"tmpfs\")] | length > 0" "$report" >/dev/null; then
    die "the audit suggested a volume; this baseline only knows tmpfs mounts"
fi
TMPFS_ARGS=()
for m in "${TMPFS[@]}"; do
    TMPFS_ARGS+=(--tmpfs "$m")
done
fatal_writes=$(jq '[.writes[] | select(.would_fail)] | length' "$report")
log "   verdict $verdict, $fatal_writes writes would fail; mounts: ${TMPFS[*]:-none}"
log "   audit does: $mode_desc"

log "== warm-up baseline"
baseline
grep -qx 'A /var/run/app/app.pid' "$WORK/diff.txt" ||
    die "docker diff did not show the app's pid file: $(cat "$WORK/diff.txt")"
no_leftovers "the warm-up baseline"

# ---------------------------------------------------------------------------------------------
# Part 1: audit vs the docker CLI, interleaved.

log "== part 1: $ROUNDS rounds of audit vs the docker CLI (order alternates)"
: >"$WORK/audit.ms"
: >"$WORK/base.ms"
: >"$WORK/base-writable.ms"
: >"$WORK/base-readonly.ms"
: >"$WORK/audit-proof.ms"
: >"$WORK/audit-rest.ms"
for ((r = 1; r <= ROUNDS; r++)); do
    : >"$WORK/cycles"
    if ((r % 2)); then
        order="audit first"
        a=$(timed audit "$WORK/round.json")
        b=$(timed baseline)
    else
        order="docker first"
        b=$(timed baseline)
        a=$(timed audit "$WORK/round.json")
    fi
    no_leftovers "round $r"
    echo "$a" >>"$WORK/audit.ms"
    echo "$b" >>"$WORK/base.ms"
    # Where the time goes: the baseline's writable and read-only runs, audit's proof.
    w=$(awk '$1 == "diff" { printf "%.1f", $2 / 1000 }' "$WORK/cycles")
    ro=$(awk '$1 == "no-diff" { printf "%.1f", $2 / 1000 }' "$WORK/cycles")
    echo "$w" >>"$WORK/base-writable.ms"
    echo "$ro" >>"$WORK/base-readonly.ms"
    printf 'round %d (%s): audit %7.1f ms, docker CLI %7.1f ms (writable %s, read-only %s), ratio %.3f\n' \
        "$r" "$order" "$a" "$b" "$w" "$ro" "$(awk -v a="$a" -v b="$b" 'BEGIN { print a / b }')"
done
audit_med=$(median <"$WORK/audit.ms")
base_med=$(median <"$WORK/base.ms")
ratio=$(awk -v a="$audit_med" -v b="$base_med" 'BEGIN { printf "%.3f", a / b }')
ratio_ok=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.15) ? "met" : "NOT met" }')
printf 'median: audit %.1f ms, docker CLI %.1f ms, ratio %s (goal <= 1.15: %s)\n' \
    "$audit_med" "$base_med" "$ratio" "$ratio_ok"
writable_med=$(median <"$WORK/base-writable.ms")
readonly_med=$(median <"$WORK/base-readonly.ms")
# The proof's first run goes alongside the trace, so audit's time does not split into parts.
split=$(printf 'docker writable run %.0f ms + read-only run %.0f ms' "$writable_med" "$readonly_med")
echo "medians by part: $split"

# ---------------------------------------------------------------------------------------------
# Part 2: the app's own startup time (start of main to listening, as it prints it) under
# `rofs-audit trace` vs a plain `docker run` of the same image, interleaved.

listening_ms() { sed -n 's/.*fixture: listening after \([0-9.]*\) ms.*/\1/p' | head -n1; }

# The plain run is polled as the tracer polls: GET the probe every 50 ms until it answers (a
# `docker logs` loop would cost the app far more CPU than the tracer's polling does); then its
# logs are read once.
startup_plain() {
    local id mapping port ms
    id=$(docker run -d --label "$LABEL" -p "127.0.0.1::$PORT" "$IMAGE")
    mapping=$(docker port "$id" "$PORT/tcp")
    port=${mapping%%$'\n'*}
    port=${port##*:}
    wait_200 "$port" || die "the plain run never answered $PROBE: $(docker logs "$id" 2>&1 | tail -n3)"
    ms=$(docker logs "$id" 2>&1 | listening_ms)
    docker rm -f -v "$id" >/dev/null
    [[ -n $ms ]] || die "the plain run never printed its startup time"
    echo "$ms"
}

startup_traced() {
    local ms
    "$BIN" trace "$IMAGE" --port "$PORT" --probe "$PROBE" --idle 0s \
        --stop-timeout "${STOP_TIMEOUT}s" --format json -o "$WORK/trace.json"
    ms=$(jq -r '.logs[].line' "$WORK/trace.json" | listening_ms)
    [[ -n $ms ]] || die "the trace's logs hold no startup time"
    echo "$ms"
}

log "== part 2: $STARTUP_ROUNDS rounds of the app's startup time, traced vs plain"
: >"$WORK/traced.ms"
: >"$WORK/plain.ms"
for ((r = 1; r <= STARTUP_ROUNDS; r++)); do
    if ((r % 2)); then
        t=$(startup_traced)
        p=$(startup_plain)
    else
        p=$(startup_plain)
        t=$(startup_traced)
    fi
    echo "$t" >>"$WORK/traced.ms"
    echo "$p" >>"$WORK/plain.ms"
done
no_leftovers "part 2"
printf 'startup traced (ms): %s\n' "$(paste -sd' ' "$WORK/traced.ms")"
printf 'startup plain  (ms): %s\n' "$(paste -sd' ' "$WORK/plain.ms")"
traced_med=$(median <"$WORK/traced.ms")
plain_med=$(median <"$WORK/plain.ms")
traced_min=$(minimum <"$WORK/traced.ms")
plain_min=$(minimum <"$WORK/plain.ms")
overhead=$(awk -v t="$traced_med" -v p="$plain_med" 'BEGIN { printf "%+.1f", (t - p) / p * 100 }')
overhead_min=$(awk -v t="$traced_min" -v p="$plain_min" 'BEGIN { printf "%+.1f", (t - p) / p * 100 }')
paired=$(paste "$WORK/traced.ms" "$WORK/plain.ms" | awk '{ print ($1 - $2) / $2 * 100 }' | median)
paired=$(awk -v x="$paired" 'BEGIN { printf "%+.1f", x }')
overhead_ok=$(awk -v o="$overhead" 'BEGIN { print (o < 2) ? "met" : "NOT met" }')
printf 'median: traced %.2f ms, plain %.2f ms, overhead %s %% (goal < 2 %%: %s); minimum: %.2f vs %.2f ms, %s %%; median of the rounds'"'"' own overheads %s %%\n' \
    "$traced_med" "$plain_med" "$overhead" "$overhead_ok" "$traced_min" "$plain_min" "$overhead_min" "$paired"

# ---------------------------------------------------------------------------------------------
# Summary, to paste into README.

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
engine=$(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')
driver=$(docker info --format '{{.Driver}}')
kernel=$(uname -r)
settings="ROUNDS=$ROUNDS STARTUP_ROUNDS=$STARTUP_ROUNDS FILES=$FILES IDLE=$IDLE STOP_TIMEOUT=$STOP_TIMEOUT"

cat <<EOF

---------------------------------------------------------------- summary (for README)
Command:  benches/audit-vs-docker.sh   ($settings)
Machine:  $(nproc) cores ($cpu), kernel $kernel, Docker Engine $engine,
          storage driver $driver; rofs-audit $revision
Workload: FROM scratch image, USER 1000; at startup the app writes a pid file and $FILES cache
          files of 4 KiB into its own /var/run/app (fatal when refused), a 2 ms lock file there,
          and a usage file in /tmp (tolerated silently). Verdict: $verdict; mounts: ${TMPFS[*]:-none}
audit:    $mode_desc; tracing mode $tracing
audit vs docker CLI (same work: run, poll $PROBE, diff, stop, rm; --read-only with the mounts,
          poll, stop, rm; idle $IDLE), $ROUNDS interleaved rounds, medians:
          audit $(printf '%.0f' "$audit_med") ms, docker CLI $(printf '%.0f' "$base_med") ms, ratio $ratio (goal <= 1.15: $ratio_ok)
          baseline by part: $split
app startup (its own time from main to listening), $STARTUP_ROUNDS interleaved rounds, medians:
          under rofs-audit trace $(printf '%.2f' "$traced_med") ms, plain docker run $(printf '%.2f' "$plain_med") ms,
          overhead $overhead % (goal < 2 %: $overhead_ok); minimum $(printf '%.2f' "$traced_min") vs $(printf '%.2f' "$plain_min") ms ($overhead_min %);
          median of the per-round overheads $paired %
Load:     1-minute load average $LOAD_START at the start, $(load) at the end (other work on the
          machine shows up as noise)
EOF
busy=$(awk -v a="$LOAD_START" -v b="$(load)" -v n="$(nproc)" 'BEGIN { print (a > n / 2 || b > n / 2) }')
if ((busy)); then
    echo "warning:  the machine was busy while this ran; the startup figures especially are within noise"
fi
