#!/usr/bin/env bash
# Build times of a user crate that depends on a checkout of `cnn` (this one by default) and
# declares LeNet-5 in its main.rs: clean (all dependencies) and incremental (after editing the
# network), release and debug, $RUNS runs each (default 3). Prints one line per run, wall-clock
# and CPU (user + system) seconds, then the medians.
#
#   bash bench/build_times.sh [CHECKOUT]      # e.g. a clone of an older commit, to compare
#
# The machine should be idle: wall-clock time counts waiting for the cores; CPU time does not, so
# it is the steadier figure on a shared machine.
set -euo pipefail
repo=$(cd "${1:-$(dirname "$0")/..}" && pwd)
runs=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
cp "$repo/rust-toolchain.toml" "$work/"
cat > "$work/Cargo.toml" <<TOML
[package]
name = "lenet-user"
version = "0.1.0"
edition = "2021"

[dependencies]
cnn = { path = "$repo" }

[workspace]
TOML
cat > "$work/src/main.rs" <<'RS'
use cnn::{cnn, Model};

cnn! {
    pub struct LeNet5 {
        input 1@28x28,
        Conv2D 6@5x5 padding 2 relu,
        MaxPool 2,
        Conv2D 16@5x5 relu,
        MaxPool 2,
        Flatten,
        Dense 120 relu,
        Dense 84 relu,
        Dense 10,
    }
}

fn main() {
    println!("{}", LeNet5::summary());
    println!("{:?}", LeNet5::new(0).forward(&[[[0.5; 28]; 28]; 1]));
}
RS
cd "$work"
# Runs a build; prints "WALL CPU" in seconds.
seconds() {
    local start end usage
    start=$(date +%s.%N)
    usage=$( (
        "$@" >/dev/null 2>&1 || exit 1
        times
    ) | tail -n 1) || { echo "build failed: $*" >&2; exit 1; }
    end=$(date +%s.%N)
    # `times` prints the children's user and system time, as "1m2.345s 0m0.678s".
    echo "$usage" | awk -v wall="$(echo "$end - $start" | bc)" '{
        cpu = 0
        for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); cpu += t[1] * 60 + t[2] }
        printf "%.2f %.2f\n", wall, cpu
    }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
lscpu | grep -E 'Model name' || true
echo "checkout: $repo ($(git -C "$repo" describe --always --dirty 2>/dev/null || echo 'not a git checkout'))"
results=$work/results
for profile in --release ""; do
    for run in $(seq "$runs"); do
        rm -rf target
        out=$(seconds cargo build $profile)
        read -r clean clean_cpu <<<"$out"
        sed -i 's/Dense 84 relu/Dense 85 relu/' src/main.rs
        out=$(seconds cargo build $profile)
        read -r edit edit_cpu <<<"$out"
        sed -i 's/Dense 85 relu/Dense 84 relu/' src/main.rs
        seconds cargo build $profile >/dev/null
        name=${profile:-debug}
        name=${name#--}
        echo "$name $clean $clean_cpu $edit $edit_cpu" >>"$results"
        echo "profile=$name run=$run clean=${clean}s (cpu ${clean_cpu}s) incremental=${edit}s (cpu ${edit_cpu}s)"
    done
done
echo "medians of $runs runs, wall-clock (CPU) seconds:"
for name in release debug; do
    col() { awk -v p="$name" -v c="$1" '$1 == p { print $c }' "$results" | median; }
    echo "$name: clean $(col 2) ($(col 3)) incremental $(col 4) ($(col 5))"
done
