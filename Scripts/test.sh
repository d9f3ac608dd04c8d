#!/usr/bin/env bash
# The whole test suite: installs system dependencies (and the Python packages a few tests use as
# independent references), builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/bootstrap.sh
# Package.swift declares exactly what each target imports, and the CLI does not link the coordinator.
Scripts/check_imports.sh
# Test helpers only, never the product's runtime: numpy + safetensors (the Python trainer example
# and safetensors interoperability). Tests that need them skip with a message when absent.
if command -v python3 >/dev/null && ! python3 -c "import numpy, safetensors" 2>/dev/null; then
    python3 -m pip install -q numpy safetensors 2>/dev/null \
        || python3 -m pip install -q --break-system-packages numpy safetensors 2>/dev/null \
        || echo "test.sh: could not install numpy/safetensors; the tests that need them will be skipped" >&2
fi
swift build --build-tests
swift test --skip-build "$@"
