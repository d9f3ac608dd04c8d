#!/usr/bin/env bash
# The main job: installs dependencies, builds in release mode and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/bootstrap.sh
swift build -c release --product cohort
cohort=.build/release/cohort

echo "== Privacy budget of a training plan: 100 rounds, q = 0.1, σ = 1.1, δ = 1e-5"
"$cohort" budget epsilon --sampling-rate 0.1 --noise-multiplier 1.1 --rounds 100 --delta 1e-5
echo "== Noise needed to keep ε ≤ 3 over the same plan"
"$cohort" budget plan --target-epsilon 3 --delta 1e-5 --sampling-rate 0.1 --rounds 100
echo "== The same, machine-readable"
"$cohort" budget plan --target-epsilon 3 --delta 1e-5 --sampling-rate 0.1 --rounds 100 --json
