#!/usr/bin/env bash
# Benchmark: peak memory (RSS) and wall time of rofs-audit where an app makes it work hardest,
# side by side with the docker CLI doing the same by hand. It prints figures and asserts nothing
# about them (it is not a timed test); it fails only when a step fails, or when the audit misses
# the read-only error after the flood.
#
#   benches/memory.sh
#   ROUNDS=1 FILES=20000 LOG_MB=10 VOLUME_MB=50 benches/memory.sh
#
# Needs: a local Docker Engine (nothing is pulled: the images are built FROM scratch around the
# static test fixture and a tiny static helper), root (overlay tracing reads the engine's
# storage), cargo, rustc, curl, jq, GNU time (/usr/bin/time).
#
# Settings (environment):
#   ROUNDS=3            rounds of each case, interleaved with the docker CLI's
#   FILES=100000        files the storm app writes at startup (100 directories of FILES/100)
#   LOG_MB=50           megabytes of log lines the flood app prints before its read-only error
#   VOLUME_MB=200       mebibytes the volume app's image holds in its VOLUME (below the 256 MiB
#                       that api mode reads of a volume)
#   KEEP_IMAGES=1       keep the images for the next run (they are cached by tag); 0 removes them
#   CARGO_TARGET_DIR    where cargo builds (default: the repo's target/)
#
# The cases:
#   storm   the app writes FILES files of 64 bytes under /var/cache/storm, then serves.
#           rofs-audit: `trace IMAGE --idle 0s --format json -o FILE` (every write, its phase and
#           size), and how long after the container stopped (the engine's die event) the report
#           was there (rofs-audit writes it whole: a temp file, renamed).
#           (On fuse-overlayfs, the storage driver here, the writes take 30 s, `docker diff` 15 s
#           and `docker rm` 40 s: a round of this case takes minutes.)
#           docker:     docker run -d, wait for the port, docker stop, docker diff, docker rm.
#   flood   the app prints LOG_MB MB of log lines, then fails to write /var/run/app.pid and logs
#           the read-only error (a tolerated write: only the logs tell), then serves.
#           rofs-audit: `audit IMAGE --idle 0s --format json` (the trace, and the read-only proof
#           with its first run alongside); the error must be among the proof's read-only errors.
#           docker:     the same trace as above, then docker run --read-only, wait for the port,
#           docker stop, docker logs | grep 'Read-only file system', docker rm.
#   volume  the image's VOLUME /data holds VOLUME_MB MiB; the app writes /data/state at startup.
#           rofs-audit: `trace IMAGE --mode api --idle 0s --format json`, as where the engine's
#           storage cannot be read: the volume is read through the archive API at every phase
#           boundary; /data/state must be among the writes.
#           docker:     docker run -d, wait for the port, docker stop, docker diff,
#           docker cp ID:/data - | tar -tv (what a diff does not show of a volume), docker rm -v.
# Peak RSS: rofs-audit's (GNU time's maximum resident set size: the process and the watchdog it
# waits for), and for the docker side the largest of its CLI commands (usually `docker diff` or
# `docker logs`). The daemon's own memory is counted on neither side. Wall time is each side's
# whole sequence.
# Resources: every image and container of ours carries the label dev.rofs-audit.test=1;
# containers are removed as each run ends, and on exit whatever happened.
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-3}
FILES=${FILES:-100000}
LOG_MB=${LOG_MB:-50}
VOLUME_MB=${VOLUME_MB:-200}
KEEP_IMAGES=${KEEP_IMAGES:-1}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
REPO=rofs-audit-bench/memory
PORT=8080
LABEL=dev.rofs-audit.test=1
# Writing 100,000 files takes 30 s on fuse-overlayfs: generous budgets, on both sides.
STARTUP_TIMEOUT_S=600
TIME=/usr/bin/time

for tool in cargo rustc docker curl jq awk sha256sum "$TIME"; do
    command -v "$tool" >/dev/null || { echo "bench: needs $tool" >&2; exit 2; }
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "bench: ROUNDS is a whole number >= 1" >&2; exit 2; }
[[ $FILES =~ ^[1-9][0-9]*$ && $LOG_MB =~ ^[1-9][0-9]*$ ]] || {
    echo "bench: FILES and LOG_MB are whole numbers >= 1" >&2
    exit 2
}
[[ $VOLUME_MB =~ ^([1-9][0-9]?|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$ ]] || {
    echo "bench: VOLUME_MB is a whole number from 1 to 255" >&2
    exit 2
}
[[ $KEEP_IMAGES =~ ^[01]$ ]] || { echo "bench: KEEP_IMAGES is 0 or 1" >&2; exit 2; }
"$TIME" -f %M true >/dev/null 2>&1 || { echo "bench: $TIME is not GNU time" >&2; exit 2; }

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_scratch memory

# ---------------------------------------------------------------------------------------------
# Build: rofs-audit, the fixture (as tests/common/mod.rs builds it), the helper, the images.

revision=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null) ]]; then
    revision+=" + uncommitted changes"
fi
log "== building rofs-audit (release) at $revision, the fixture and the helper"
build_binaries

# The helper (tests/helpers/flood.rs) does the heavy part, then becomes the fixture.
HELPER_DIR=$TARGET_DIR/bench-memory
mkdir -p "$HELPER_DIR"
rustc --edition 2021 -O -C strip=symbols -C target-feature=+crt-static \
    --target x86_64-unknown-linux-gnu -o "$HELPER_DIR/helper" "$ROOT/tests/helpers/flood.rs"

# Builds an image around the fixture and the helper with extra Dockerfile lines (which may COPY
# data, holding $3 MiB of zeros in data/blob), tagged by a hash of its inputs; prints the tag.
build_image() {
    local name=$1 lines=$2 blob_mb=${3:-0} ctx hash tag
    ctx=$WORK/context-$name
    mkdir -p "$ctx/var/run" "$ctx/app" "$ctx/data"
    install -m 0755 "$FIXTURE" "$ctx/app/fixture"
    install -m 0755 "$HELPER_DIR/helper" "$ctx/app/helper"
    cat >"$ctx/Dockerfile" <<EOF
FROM scratch
COPY app /app
COPY var /var
EXPOSE $PORT
ENTRYPOINT ["/app/helper"]
$lines
LABEL $LABEL
EOF
    hash=$( (cat "$ctx/Dockerfile" "$ctx/app/fixture" "$ctx/app/helper"; echo "$blob_mb") | sha256sum | cut -c1-12)
    tag=$REPO-$name:$hash
    if ! docker image inspect "$tag" >/dev/null 2>&1; then
        head -c "$((blob_mb << 20))" /dev/zero >"$ctx/data/blob"
        DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" >/dev/null
    fi
    rm -rf "$ctx"
    echo "$tag"
}
log "== building the images"
STORM=$(build_image storm "ENV STORM_FILES=$FILES")
FLOOD=$(build_image flood "ENV FLOOD_BYTES=$((LOG_MB * 1000000))
ENV FIXTURE_STARTUP_WRITES=/var/run/app.pid?")
VOLUME=$(build_image volume "COPY data /data
VOLUME /data
ENV FIXTURE_STARTUP_WRITES=/data/state" "$VOLUME_MB")
IMAGES+=("$STORM" "$FLOOD" "$VOLUME")

# ---------------------------------------------------------------------------------------------
# The sides.

# Runs a command under GNU time; appends its peak RSS (KiB) to $WORK/rss, its output to $2.
timed() {
    local out=$1
    shift
    "$TIME" -f %M -o "$WORK/time" "$@" >"$out" 2>"$WORK/stderr" || {
        cat "$WORK/stderr" >&2
        die "failed: $*"
    }
    tail -n1 "$WORK/time" >>"$WORK/rss"
}

# Waits until something answers on the port (any HTTP status).
wait_port() {
    local deadline=$(($(now_us) + STARTUP_TIMEOUT_S * 1000000))
    while (($(now_us) < deadline)); do
        curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/" && return 0
        sleep 0.05
    done
    return 1
}

# One run with the docker CLI, as a person would trace: run, wait, stop, then `docker diff` for
# a writable run (and the volume at $COPY_OUT listed with docker cp, when set) or `docker logs`
# for a read-only one, rm. Extra arguments go to `docker run`.
docker_run() {
    local image=$1 readonly=$2 id mapping port
    shift 2
    timed "$WORK/id" docker run -d --label "$LABEL" -p "127.0.0.1::$PORT" "$@" "$image"
    id=$(cat "$WORK/id")
    mapping=$(docker port "$id" "$PORT/tcp")
    port=${mapping##*:}
    wait_port "$port" || die "$image never answered on port $PORT"
    timed /dev/null docker stop "$id"
    if ((readonly)); then
        # The app's errors are on stderr: both streams, as a person reads them.
        # shellcheck disable=SC2016 # expanded by that shell
        timed "$WORK/logs" sh -c 'docker logs "$1" 2>&1' sh "$id"
        grep -c 'Read-only file system' "$WORK/logs" >"$WORK/found" || echo 0 >"$WORK/found"
        rm -f "$WORK/logs"
    else
        timed "$WORK/diff" docker diff "$id"
        wc -l <"$WORK/diff" >"$WORK/found"
        if [[ -n ${COPY_OUT:-} ]]; then
            # shellcheck disable=SC2016 # expanded by that shell
            timed "$WORK/listing" sh -c 'docker cp "$1:$2" - | tar -tv' sh "$id" "$COPY_OUT"
            grep -c '' "$WORK/listing" >"$WORK/found"
        fi
    fi
    timed /dev/null docker rm -v "$id"
}

# Appends "wall_s rss_kib result" of one round of a side to $WORK/<case>-<side>.
record() {
    local file=$1 start=$2 result=$3
    echo "$(awk -v us=$(($(now_us) - start)) 'BEGIN { printf "%.2f", us / 1e6 }')" \
        "$(maximum <"$WORK/rss")" "$result" >>"$file"
}

storm_audit() {
    local start since poller died written after
    : >"$WORK/rss"
    rm -f "$WORK/trace.json" "$WORK/written"
    # rofs-audit writes the report whole (a temp file, renamed): it exists once complete.
    (
        for ((i = 0; i < STARTUP_TIMEOUT_S * 200; i++)); do
            [[ -e $WORK/trace.json ]] && { now_us >"$WORK/written"; exit; }
            sleep 0.005
        done
    ) &
    poller=$!
    since=$(date +%s)
    start=$(now_us)
    timed /dev/null "$BIN" trace "$STORM" --idle 0s --format json -o "$WORK/trace.json" \
        --startup-timeout "${STARTUP_TIMEOUT_S}s"
    wait "$poller"
    # When the trace container stopped, by the engine's clock (the same host's): the one of ours
    # that ran the storm's image (rofs-audit runs an image by its ID).
    # --until counts whole seconds: one more, or a stop in this second is left out.
    died=$(docker events --since "$since" --until "$(($(date +%s) + 1))" --filter event=die \
        --filter label=dev.rofs-audit.managed \
        --filter "image=$(docker image inspect --format '{{.Id}}' "$STORM")" \
        --format '{{.TimeNano}}' | head -n1)
    written=$(cat "$WORK/written")
    [[ -n $died && -n $written ]] || die "no stop event or no report for the storm's trace"
    after=$(awk -v w="$written" -v d="$died" 'BEGIN { printf "%.2f", w / 1e6 - d / 1e9 }')
    record "$WORK/storm-rofs" "$start" \
        "$(jq '.writes | length' "$WORK/trace.json") writes, report ${after} s after stop"
    rm -f "$WORK/trace.json"
}
storm_docker() {
    local start
    : >"$WORK/rss"
    start=$(now_us)
    docker_run "$STORM" 0
    record "$WORK/storm-docker" "$start" "$(cat "$WORK/found") diff lines"
}
flood_audit() {
    local start found
    : >"$WORK/rss"
    start=$(now_us)
    # Exit 1: findings (the pid file needs a mount).
    "$TIME" -f %M -o "$WORK/time" "$BIN" audit "$FLOOD" --idle 0s --format json \
        --startup-timeout "${STARTUP_TIMEOUT_S}s" >"$WORK/audit.json" 2>"$WORK/stderr" || [[ $? == 1 ]] || {
        cat "$WORK/stderr" >&2
        die "rofs-audit audit $FLOOD failed"
    }
    tail -n1 "$WORK/time" >>"$WORK/rss"
    found=$(jq '[.verification.runs[] | select(.readonly and (.mounts | length == 0))
        | .erofs_lines[] | select(.path == "/var/run/app.pid")] | length' "$WORK/audit.json")
    ((found > 0)) || die "the audit missed the read-only error after the flood"
    record "$WORK/flood-rofs" "$start" "error found ($(jq -r .verdict "$WORK/audit.json"))"
    rm -f "$WORK/audit.json"
}
flood_docker() {
    local start found
    : >"$WORK/rss"
    start=$(now_us)
    docker_run "$FLOOD" 0
    docker_run "$FLOOD" 1 --read-only
    found=$(cat "$WORK/found")
    record "$WORK/flood-docker" "$start" "$([[ $found -gt 0 ]] && echo 'error found' || echo 'error missed')"
}
volume_audit() {
    local start found
    : >"$WORK/rss"
    start=$(now_us)
    timed "$WORK/trace.json" "$BIN" trace "$VOLUME" --mode api --idle 0s --format json
    found=$(jq '[.writes[] | select(.path == "/data/state")] | length' "$WORK/trace.json")
    ((found > 0)) || die "the api-mode trace missed /data/state in the volume"
    record "$WORK/volume-rofs" "$start" "$(jq '.writes | length' "$WORK/trace.json") writes, /data/state found"
    rm -f "$WORK/trace.json"
}
volume_docker() {
    local start
    : >"$WORK/rss"
    start=$(now_us)
    COPY_OUT=/data docker_run "$VOLUME" 0
    record "$WORK/volume-docker" "$start" "$(cat "$WORK/found") entries in /data"
}

log "== $ROUNDS round(s): storm of $FILES files, flood of $LOG_MB MB of logs, volume of $VOLUME_MB MiB (load $(cut -d' ' -f1 /proc/loadavg))"
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then
        storm_audit
        storm_docker
        flood_audit
        flood_docker
        volume_audit
        volume_docker
    else
        storm_docker
        storm_audit
        flood_docker
        flood_audit
        volume_docker
        volume_audit
    fi
    log "   round $round done"
done

# ---------------------------------------------------------------------------------------------
# Report.

summary() {
    local file=$WORK/$1-$2 what=$3 wall rss result
    wall=$(cut -d' ' -f1 "$file" | median)
    rss=$(cut -d' ' -f2 "$file" | maximum)
    result=$(cut -d' ' -f3- "$file" | sort | uniq -c | awk '{ $1 = $1 "x"; print }' | paste -sd';')
    printf '%-7s %-44s %9s %11.1f   %s\n' "$1" "$what" "$wall" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$result"
}
echo
echo "rofs-audit $("$BIN" --version 2>/dev/null | awk '{ print $2 }') at $revision; docker $(docker version --format '{{.Server.Version}}'); $(nproc) cores; load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-7s %-44s %9s %11s   %s\n' case side "wall s" "peak MiB" "result (per round)"
summary storm rofs "rofs-audit trace" 
summary storm docker "docker run/stop/diff/rm"
summary flood rofs "rofs-audit audit (trace + proof)"
summary flood docker "docker run/stop/diff/rm + --read-only/logs"
summary volume rofs "rofs-audit trace --mode api"
summary volume docker "docker run/stop/diff/cp/rm"
echo "(wall: median of $ROUNDS; peak: largest of $ROUNDS, for docker its largest CLI command)"
