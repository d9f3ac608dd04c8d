#!/usr/bin/env bash
# The whole test suite: installs system dependencies, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/bootstrap.sh
swift build --build-tests
swift test --skip-build "$@"
