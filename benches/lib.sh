# Shared by the benchmarks (sourced, not run): messages, a wall clock and order statistics.
# shellcheck shell=bash

die() {
    echo "bench: $*" >&2
    exit 1
}
log() { echo "$*" >&2; }

# Wall clock in microseconds.
now_us() {
    local t=${EPOCHREALTIME/./}
    echo "$((10#$t))"
}

# Of numbers on stdin, one a line.
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
minimum() { sort -g | head -n1; }
maximum() { sort -g | tail -n1; }

# Sets up the scratch directory $WORK (named after $1) and the list IMAGES of the benchmark's
# images, and removes both on exit and on SIGINT or SIGTERM: every container of those images is
# ours (the baseline's, and any that an interrupted rofs-audit could not remove itself: it
# cleans up on Ctrl-C, but not when killed), and the images go too unless KEEP_IMAGES=1 (the
# default).
bench_scratch() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/rofs-audit-$1.XXXXXX")
    IMAGES=()
    trap bench_cleanup EXIT
    trap 'bench_on_signal INT' INT
    trap 'bench_on_signal TERM' TERM
}

bench_cleanup() {
    local image ids
    for image in "${IMAGES[@]}"; do
        ids=$(docker ps -aq --filter "ancestor=$image" 2>/dev/null || true)
        if [[ -n $ids ]]; then
            # shellcheck disable=SC2086 # one ID per word
            docker rm -f -v $ids >/dev/null 2>&1 || true
        fi
        if ((!${KEEP_IMAGES:-1})); then
            docker image rm "$image" >/dev/null 2>&1 || true
        fi
    done
    rm -rf "$WORK"
}

bench_on_signal() {
    trap - INT TERM
    echo "bench: interrupted, cleaning up" >&2
    bench_cleanup
    trap - EXIT
    kill "-$1" "$$"
}

# Builds rofs-audit (release) and the static test fixture, as tests/common/mod.rs builds it,
# under $TARGET_DIR, and sets BIN and FIXTURE to them.
build_binaries() {
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --locked --quiet)
    BIN=$TARGET_DIR/release/rofs-audit
    [[ -x $BIN ]] || die "cargo built rofs-audit but $BIN is missing"
    (
        cd "$ROOT"
        unset CARGO_ENCODED_RUSTFLAGS
        RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --quiet \
            --target x86_64-unknown-linux-gnu --manifest-path tests/fixture/Cargo.toml \
            --target-dir "$TARGET_DIR/fixture"
    )
    FIXTURE=$TARGET_DIR/fixture/x86_64-unknown-linux-gnu/release/rofs-fixture
    [[ -x $FIXTURE ]] || die "cargo built the fixture but $FIXTURE is missing"
}
