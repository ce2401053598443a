#!/usr/bin/env bash
# Benchmark: `rofs-audit audit` on an app that needs 4 mounts, against the docker-CLI pair a
# person would run by hand once they knew the fix (a writable run, then a read-only run with the
# final 4 mounts). Target: the audit takes at most 3 times as long. It prints figures and asserts
# nothing about them (it is not a timed test); it fails only when a step fails.
#
#   benches/four-mounts.sh
#   ROUNDS=3 IDLE=1s benches/four-mounts.sh
#
# Needs: a local Docker Engine (nothing is pulled: the images are built FROM scratch around the
# static test fixture), root (overlay tracing reads the engine's storage), cargo, curl, jq.
#
# Settings (environment):
#   ROUNDS=5            interleaved rounds of audit vs the docker CLI, per variant and idle
#   IDLE=2s             --idle for audit, and the baseline's sleep in each of its two runs; a
#                       second set of rounds always runs with 0s (unless IDLE is 0s already)
#   STOP_TIMEOUT=10     seconds between SIGTERM and SIGKILL, for audit and `docker stop -t`
#   VARIANTS="fatal tolerated"   which images to measure (see below)
#   KEEP_IMAGES=1       keep the images for the next run (they are cached by tag); 0 removes them
#                       on exit
#   CARGO_TARGET_DIR    where cargo builds (default: the repo's target/; the fixture goes to
#                       its fixture/ subdirectory, as the tests build it)
#
# The app (as root: a user could not create these directories under root's /var/run and the
# like, even with a writable root) writes at startup, in this order, one file in each of 4
# directories that the image lacks: /var/run/app, /var/cache/app, /srv/data and /opt/app/tmp,
# creating them. Their parents hold
# files of the image (or, for /var/run and /var/cache, an empty directory the image has, as a
# Debian image has /var/run/lock), so no single mount can go higher and cover two of them: the
# fewest mounts are those 4 directories.
#   fatal       each write is fatal when refused (`!`): a read-only run stops at the first one,
#               so each run names one more missing mount
#   tolerated   each write is tolerated but logged (`?`): the app logs each read-only error and
#               keeps running, so the first run names all 4 (the proof's clean gate still wants
#               the logs free of them)
#
# What is compared, per round, in alternating order so that drift cancels:
#   audit:    rofs-audit audit IMAGE --profile docker --port 8080 --idle $IDLE (the trace and the
#             read-only proof, timed as one command, wall clock)
#   baseline: docker run -d (port published on 127.0.0.1), poll GET /health every 50 ms until it
#             answers 200, sleep $IDLE, docker stop, docker rm; then the same with --read-only
#             and the 4 tmpfs mounts the audit proved (taken from an untimed warm-up audit).
# Resources: every image, and every container of ours, carries the label dev.rofs-audit.test=1;
# containers are removed as each run ends (and on exit, whatever happened).
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-5}
IDLE=${IDLE:-2s}
STOP_TIMEOUT=${STOP_TIMEOUT:-10}
VARIANTS=${VARIANTS:-fatal tolerated}
KEEP_IMAGES=${KEEP_IMAGES:-1}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
REPO_PREFIX=rofs-audit-bench/four-mounts
PORT=8080
PROBE=/health
LABEL=dev.rofs-audit.test=1
STARTUP_TIMEOUT_S=30
TARGET_RATIO=3
# The 4 directories the app writes into, and the file it writes in each (in this order).
MOUNT_DIRS=(/var/run/app /var/cache/app /srv/data /opt/app/tmp)
WRITES=(/var/run/app/app.pid=16 /var/cache/app/index.bin=65536 /srv/data/state.json=512
    /opt/app/tmp/scratch.tmp=4096)

for tool in cargo docker curl jq awk tar sha256sum git; do
    command -v "$tool" >/dev/null || { echo "bench: needs $tool on PATH" >&2; exit 2; }
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "bench: ROUNDS is a whole number >= 1" >&2; exit 2; }
[[ $STOP_TIMEOUT =~ ^[0-9]+$ ]] || { echo "bench: STOP_TIMEOUT is whole seconds" >&2; exit 2; }
[[ $KEEP_IMAGES =~ ^[01]$ ]] || { echo "bench: KEEP_IMAGES is 0 or 1" >&2; exit 2; }
[[ $IDLE =~ ^[0-9]+(\.[0-9]+)?(ms|s)$ ]] || { echo "bench: IDLE is like 0s, 500ms or 2s" >&2; exit 2; }
for v in $VARIANTS; do
    [[ $v == fatal || $v == tolerated ]] || {
        echo "bench: VARIANTS holds fatal and/or tolerated, not $v" >&2
        exit 2
    }
done
[[ -n ${VARIANTS// /} ]] || { echo "bench: VARIANTS is empty" >&2; exit 2; }

# Seconds for sleep(1), from 2s / 500ms / 1.5s.
idle_seconds() {
    if [[ $1 == *ms ]]; then
        awk -v ms="${1%ms}" 'BEGIN { printf "%.3f", ms / 1000 }'
    else
        echo "${1%s}"
    fi
}
IDLES=("$IDLE")
if [[ $(idle_seconds "$IDLE") =~ ^0*(\.0*)?$ ]]; then
    IDLES=(0s)
else
    IDLES+=(0s)
fi

load() { cut -d' ' -f1-3 /proc/loadavg; }
# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_scratch four-mounts
# The distinct values of a column of whole numbers, as "5" or "5/6".
distinct() { sort -n | uniq | paste -sd/; }

# ---------------------------------------------------------------------------------------------
# Build: rofs-audit, the static fixture (as tests/common/mod.rs builds it), the images.

revision=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
log "== building rofs-audit (release, locked) at $revision, and the fixture"
build_binaries
version=$("$BIN" --version 2>/dev/null || echo "rofs-audit ?")

# The rootfs both images share: the app in /opt/app, its config in /etc/app, the files it serves
# in /srv/www, seed data in /var/lib/app, and the empty /var/run/lock and /var/cache/ldconfig a
# Debian image has. None of the 4 directories the app writes into exists.
rootfs_tar() {
    local rootfs=$WORK/rootfs
    rm -rf "$rootfs"
    mkdir -p "$rootfs"/{opt/app/static,etc/app,srv/www,var/lib/app,var/run/lock,var/cache/ldconfig}
    install -m 0755 "$FIXTURE" "$rootfs/opt/app/fixture"
    printf 'listen = "0.0.0.0:%s"\ndata = "/srv/data"\n' "$PORT" >"$rootfs/etc/app/app.conf"
    printf '<!doctype html><title>app</title>\n' >"$rootfs/opt/app/static/index.html"
    printf '<!doctype html><title>www</title>\n' >"$rootfs/srv/www/index.html"
    printf '{"seed": true}\n' >"$rootfs/var/lib/app/seed.json"
    find "$rootfs" -type d -exec chmod 0755 {} +
    find "$rootfs" -type f ! -name fixture -exec chmod 0644 {} +
    chown -R 0:0 "$rootfs"
    # Reproducible (names sorted, times zeroed): the same fixture gives the same bytes.
    tar --sort=name --mtime=@0 --numeric-owner -C "$rootfs" -cf "$1" .
    rm -rf "$rootfs"
}

# Builds the image of a variant unless one with the same inputs exists (the tag is a hash of
# them), removes older builds of that variant, and prints the tag.
build_image() {
    local variant=$1 suffix spec='' w ctx hash tag old
    case $variant in
    fatal) suffix='!' ;;
    tolerated) suffix='?' ;;
    esac
    for w in "${WRITES[@]}"; do
        spec+=${spec:+,}$w$suffix
    done
    ctx=$WORK/context-$variant
    mkdir -p "$ctx"
    rootfs_tar "$ctx/rootfs.tar"
    cat >"$ctx/Dockerfile" <<EOF
FROM scratch
ADD rootfs.tar /
ENV FIXTURE_STARTUP_WRITES=$spec
EXPOSE $PORT
ENTRYPOINT ["/opt/app/fixture"]
LABEL $LABEL
EOF
    hash=$(cat "$ctx/Dockerfile" "$ctx/rootfs.tar" | sha256sum | cut -c1-12)
    tag=$REPO_PREFIX-$variant:$hash
    if docker image inspect "$tag" >/dev/null 2>&1; then
        log "   $tag: cached"
    else
        log "   building $tag"
        DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" >/dev/null
    fi
    rm -rf "$ctx"
    # Earlier builds of this variant (another fixture, another layout) would only pile up.
    while read -r old; do
        if [[ -n $old && $old != "$tag" ]]; then
            docker image rm "$old" >/dev/null 2>&1 || true
        fi
    done < <(docker image ls --format '{{.Repository}}:{{.Tag}}' "$REPO_PREFIX-$variant")
    echo "$tag"
}

log "== images"
declare -A IMAGE_OF
for variant in $VARIANTS; do
    IMAGE_OF[$variant]=$(build_image "$variant")
    IMAGES+=("${IMAGE_OF[$variant]}")
done

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

# One run with the docker CLI: run, wait for 200 on the probe, idle, stop, rm. Its time goes to
# $WORK/cycles under the name $2. Extra arguments go to `docker run`.
docker_cycle() {
    local image=$1 name=$2 idle_s=$3 id mapping port start
    shift 3
    start=$(now_us)
    id=$(docker run -d --label "$LABEL" -p "127.0.0.1::$PORT" "$@" "$image")
    mapping=$(docker port "$id" "$PORT/tcp")
    port=${mapping%%$'\n'*}
    port=${port##*:}
    if ! wait_200 "$port"; then
        docker logs "$id" >&2 || true
        docker rm -f -v "$id" >/dev/null 2>&1 || true
        die "the baseline's container never answered $PROBE (docker run $*)"
    fi
    sleep "$idle_s"
    docker stop -t "$STOP_TIMEOUT" "$id" >/dev/null
    docker rm -v "$id" >/dev/null
    echo "$name $(($(now_us) - start))" >>"$WORK/cycles"
}

# The pair: writable, then read-only with the mounts in TMPFS_ARGS.
baseline() {
    local image=$1 idle_s=$2
    docker_cycle "$image" writable "$idle_s"
    docker_cycle "$image" read-only "$idle_s" --read-only "${TMPFS_ARGS[@]}"
}

audit() {
    local image=$1 idle=$2 out=$3
    "$BIN" audit "$image" --profile docker --port "$PORT" --idle "$idle" \
        --stop-timeout "${STOP_TIMEOUT}s" --fail-on never --format json -o "$out"
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
    left=$(docker ps -aq --filter "ancestor=$1")
    [[ -z $left ]] || die "containers of $1 left behind after $2: $left"
}

# The proof's minimal mounts when it passed (the fix it stands behind), else the planned ones.
MOUNTS_FROM='if .verification.passed then .verification.minimal_mounts else .mounts end'
mount_count() { jq "[$MOUNTS_FROM] | .[0] | length" "$1"; }

# ---------------------------------------------------------------------------------------------
# Measure: for each variant, a warm-up (an audit whose mounts the baseline then uses, and one
# baseline pair), then ROUNDS interleaved rounds for each idle.

LOAD_START=$(load)
: >"$WORK/summary"
: >"$WORK/notes"
for variant in $VARIANTS; do
    image=${IMAGE_OF[$variant]}
    log "== $variant: warm-up audit of $image"
    report=$WORK/warmup-$variant.json
    audit "$image" "${IDLES[-1]}" "$report"
    no_leftovers "$image" "the warm-up audit"
    verdict=$(jq -r '.verdict' "$report")
    passed=$(jq -r '.verification.passed' "$report")
    mapfile -t TMPFS < <(jq -r "($MOUNTS_FROM)[] | select(.kind == \"tmpfs\")
        | \"\(.path):\((.options + [\"size=\(.size_mib)m\"]) | join(\",\"))\"" "$report")
    if jq -e "[($MOUNTS_FROM)[] | select(.kind != \"tmpfs\")] | length > 0" "$report" >/dev/null; then
        die "the audit of $image suggested a volume; this baseline only knows tmpfs mounts"
    fi
    ((${#TMPFS[@]} > 0)) || die "the audit of $image proposed no mount (verdict $verdict)"
    TMPFS_ARGS=()
    for m in "${TMPFS[@]}"; do
        TMPFS_ARGS+=(--tmpfs "$m")
    done
    paths=$(printf '%s\n' "${TMPFS[@]%%:*}" | sort | paste -sd' ')
    expected=$(printf '%s\n' "${MOUNT_DIRS[@]}" | sort | paste -sd' ')
    log "   verdict $verdict, proof passed: $passed; mounts: ${TMPFS[*]}"
    if [[ $paths != "$expected" ]]; then
        echo "$variant: the audit's mounts ($paths) are not the 4 expected ($expected)" >>"$WORK/notes"
        log "   warning: expected the mounts $expected"
    fi
    if [[ $passed != true ]]; then
        echo "$variant: the warm-up audit's proof did not pass: $(jq -r '.verification.failure // "?"' "$report")" >>"$WORK/notes"
    fi
    log "== $variant: warm-up baseline"
    : >"$WORK/cycles"
    baseline "$image" 0
    no_leftovers "$image" "the warm-up baseline"

    for idle in "${IDLES[@]}"; do
        idle_s=$(idle_seconds "$idle")
        key=$variant-$idle
        log "== $variant, idle $idle: $ROUNDS rounds of audit vs the docker CLI (order alternates)"
        for f in audit base writable read-only runs mounts proof; do
            : >"$WORK/$key.$f"
        done
        for ((r = 1; r <= ROUNDS; r++)); do
            : >"$WORK/cycles"
            if ((r % 2)); then
                order="audit first"
                a=$(timed audit "$image" "$idle" "$WORK/round.json")
                b=$(timed baseline "$image" "$idle_s")
            else
                order="docker first"
                b=$(timed baseline "$image" "$idle_s")
                a=$(timed audit "$image" "$idle" "$WORK/round.json")
            fi
            no_leftovers "$image" "round $r"
            runs=$(jq -r '.verification.run_count' "$WORK/round.json")
            mounts=$(mount_count "$WORK/round.json")
            proof=$(jq -r '.verification.wall_ms' "$WORK/round.json")
            w=$(awk '$1 == "writable" { printf "%.1f", $2 / 1000 }' "$WORK/cycles")
            ro=$(awk '$1 == "read-only" { printf "%.1f", $2 / 1000 }' "$WORK/cycles")
            echo "$a" >>"$WORK/$key.audit"
            echo "$b" >>"$WORK/$key.base"
            echo "$w" >>"$WORK/$key.writable"
            echo "$ro" >>"$WORK/$key.read-only"
            echo "$runs" >>"$WORK/$key.runs"
            echo "$mounts" >>"$WORK/$key.mounts"
            echo "$proof" >>"$WORK/$key.proof"
            printf '%-9s idle %-4s round %d (%s): audit %7.1f ms (%s proof runs, %s mounts), docker CLI %7.1f ms (writable %s + read-only %s), ratio %.2f\n' \
                "$variant" "$idle" "$r" "$order" "$a" "$runs" "$mounts" "$b" "$w" "$ro" \
                "$(awk -v a="$a" -v b="$b" 'BEGIN { print a / b }')"
        done
        am=$(median <"$WORK/$key.audit")
        bm=$(median <"$WORK/$key.base")
        ratio=$(awk -v a="$am" -v b="$bm" 'BEGIN { printf "%.2f", a / b }')
        met=$(awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN { print (r <= t) ? "met" : "NOT met" }')
        printf '%s|%s|%.0f|%.0f|%.0f|%.0f|%.0f|%.0f|%s|%s|%s|%s|%.0f|%.0f|%.0f\n' \
            "$variant" "$idle" \
            "$am" "$(minimum <"$WORK/$key.audit")" "$(maximum <"$WORK/$key.audit")" \
            "$bm" "$(minimum <"$WORK/$key.base")" "$(maximum <"$WORK/$key.base")" \
            "$ratio" "$met" "$(distinct <"$WORK/$key.runs")" "$(distinct <"$WORK/$key.mounts")" \
            "$(median <"$WORK/$key.writable")" "$(median <"$WORK/$key.read-only")" \
            "$(median <"$WORK/$key.proof")" >>"$WORK/summary"
    done
done
LOAD_END=$(load)

# ---------------------------------------------------------------------------------------------
# Summary.

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
engine=$(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')
driver=$(docker info --format '{{.Driver}}')

cat <<EOF

---------------------------------------------------------------- summary
Command:  benches/four-mounts.sh   (ROUNDS=$ROUNDS IDLE=$IDLE STOP_TIMEOUT=$STOP_TIMEOUT VARIANTS="$VARIANTS")
Revision: $revision ($version)
Machine:  $(nproc) cores ($cpu), kernel $(uname -r), Docker Engine $engine, storage driver $driver
Load:     load average $LOAD_START at the start, $LOAD_END at the end
Workload: FROM scratch, as root; at startup the app writes one file into each of
          ${MOUNT_DIRS[*]} (none in the image);
          fatal: each write is fatal when refused; tolerated: logged, and the app runs on
audit:    rofs-audit audit IMAGE --profile docker --port $PORT --idle IDLE (trace + read-only proof)
baseline: docker run -d, poll $PROBE until 200, sleep IDLE, stop, rm; the same with --read-only
          and the 4 tmpfs mounts of the audit
Wall times in ms over $ROUNDS interleaved rounds: median [min-max]; ratio of the medians, target <= ${TARGET_RATIO}x

EOF
{
    printf '%-9s %-5s %-22s %-22s %-6s %-8s %-6s %-6s %-8s %s\n' \
        variant idle audit "docker CLI" ratio target runs mounts proof "baseline parts (writable + read-only)"
    while IFS='|' read -r v i am amin amax bm bmin bmax ratio met runs mounts w ro proof; do
        printf '%-9s %-5s %-22s %-22s %-6s %-8s %-6s %-6s %-8s %s\n' \
            "$v" "$i" "$am [$amin-$amax]" "$bm [$bmin-$bmax]" "${ratio}x" "$met" \
            "$runs" "$mounts" "$proof" "$w + $ro"
    done <"$WORK/summary"
} | sed 's/^/  /'
cat <<EOF

  runs: the proof runs the audit reports (verification.run_count), as seen over the rounds;
  mounts: its minimal mounts; proof: the median of its own proof wall time (verification.wall_ms,
  from the first proof run, which goes alongside the trace).
EOF
if [[ -s $WORK/notes ]]; then
    sed 's/^/warning:  /' "$WORK/notes"
fi
busy=$(awk -v a="${LOAD_START%% *}" -v b="${LOAD_END%% *}" -v n="$(nproc)" 'BEGIN { print (a > n / 2 || b > n / 2) }')
if ((busy)); then
    echo "warning:  the machine was busy while this ran (1-minute load above half the cores)"
fi
