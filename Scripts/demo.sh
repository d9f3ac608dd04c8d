#!/usr/bin/env bash
# The main job: installs dependencies, builds in release mode and runs a real federated training
# on the shipped data: a consortium CA, a coordinator and participant processes over mutual TLS,
# record-level differential privacy, the signed ledger. Extra arguments go to `cohort demo`
# (e.g. `--dataset credit`, `--json`).
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/bootstrap.sh
swift build -c release --product cohort
swift build -c release --product cohort-coordinator
swift build -c release --product cohort-participant
exec .build/release/cohort demo "$@"
