#!/usr/bin/env bash
# Build times of a user crate that depends on this checkout and declares LeNet-5 in its main.rs:
# clean (all dependencies) and incremental (after editing the network), release and debug,
# 3 runs each. Usage: bash bench/build_times.sh   (prints one line per run; report medians)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
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
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "build failed: $*" >&2; exit 1; }
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}
lscpu | grep -E 'Model name' || true
for profile in --release ""; do
    for run in 1 2 3; do
        rm -rf target
        clean=$(seconds cargo build $profile)
        sed -i 's/Dense 84 relu/Dense 85 relu/' src/main.rs
        edit=$(seconds cargo build $profile)
        sed -i 's/Dense 85 relu/Dense 84 relu/' src/main.rs
        seconds cargo build $profile >/dev/null
        echo "profile=${profile:-debug} run=$run clean=${clean}s incremental=${edit}s"
    done
done
