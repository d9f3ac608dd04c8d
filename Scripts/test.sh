#!/usr/bin/env bash
# The whole test suite: installs system dependencies (and the Python packages a few tests use as
# independent references), builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/bootstrap.sh
# Test helpers only, never the product's runtime: numpy + safetensors (the Python trainer examples,
# python/, and safetensors interoperability). The external-model tests FAIL without them; PyTorch
# is optional: its agreement test reports NOT RUN without torch, and fails under COHORT_REQUIRE_TORCH=1.
if command -v python3 >/dev/null && ! python3 -c "import numpy, safetensors" 2>/dev/null; then
    python3 -m pip install -q numpy safetensors 2>/dev/null \
        || python3 -m pip install -q --break-system-packages numpy safetensors 2>/dev/null \
        || echo "test.sh: could not install numpy/safetensors; the tests that need them will fail" >&2
fi
swift build --build-tests
swift test --skip-build "$@"
