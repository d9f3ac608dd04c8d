#!/usr/bin/env bash
# The whole test suite: installs system dependencies (and the Python packages a few tests use as
# independent references), builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/bootstrap.sh
# Test helpers only, never the product's runtime: numpy + safetensors (the Python trainer example,
# safetensors interoperability, and the documented model-export snippet, whose test fails when
# they are absent). Without them the suite cannot pass, so stop here and say so.
if ! command -v python3 >/dev/null; then
    echo "test.sh: python3 is required by the tests (apt-get install python3 python3-pip)" >&2
    exit 1
fi
if ! python3 -c "import numpy, safetensors" 2>/dev/null; then
    python3 -m pip install -q numpy safetensors 2>/dev/null \
        || python3 -m pip install -q --break-system-packages numpy safetensors 2>/dev/null \
        || { echo "test.sh: could not install numpy and safetensors with pip; install them (pip install numpy safetensors) and re-run" >&2; exit 1; }
fi
swift build --build-tests
swift test --skip-build "$@"
