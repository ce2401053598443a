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
