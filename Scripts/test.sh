#!/usr/bin/env bash
# The whole test suite: installs system dependencies (and the Python packages a few tests use as
# independent references), builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests (and check_imports.sh) also run python3 with pip; on a fresh Debian machine they come
# from its packages.
python_packages=()
python3 -m pip --version >/dev/null 2>&1 || python_packages=(python3 python3-pip)
Scripts/bootstrap.sh ${python_packages[@]+"${python_packages[@]}"}
# Package.swift declares exactly what each target imports, and the CLI does not link the coordinator.
Scripts/check_imports.sh
# Sources and tests are formatted as .swift-format says (swift-format ships with the toolchain);
# Scripts/format.sh fixes what this finds.
Scripts/lint.sh
# Test helpers only, never the product's runtime: numpy + safetensors (the Python trainer example
# and safetensors interoperability, python/) and cryptography (Scripts/verify_ledger.py). PyTorch is
# optional: its agreement test reports NOT RUN without torch and fails under COHORT_REQUIRE_TORCH=1. The tests that
# need them fail with what to install when they are missing, so install them or stop here.
python_modules=(numpy safetensors cryptography)
command -v python3 >/dev/null || { echo "test.sh: python3 is required (Python reference tests); install Python 3" >&2; exit 1; }
if ! python3 -c "import numpy, safetensors, cryptography" 2>/dev/null; then
    python3 -m pip install -q "${python_modules[@]}" \
        || python3 -m pip install -q --break-system-packages "${python_modules[@]}" \
        || { echo "test.sh: could not install ${python_modules[*]} with pip; install them and run again" >&2; exit 1; }
    python3 -c "import numpy, safetensors, cryptography" \
        || { echo "test.sh: python3 still cannot import ${python_modules[*]} after pip install" >&2; exit 1; }
fi
swift build --build-tests
if [ "$#" -gt 0 ]; then
    swift test --skip-build "$@"
    exit
fi
# The suites that run many coordinator and participant processes (kill -9 at random points, a
# full disk, SIGTERM and reconnection) each keep both cores busy for a minute; run in parallel
# with the rest they only measure the machine's load. So: everything else in parallel, then
# those one at a time.
process_suites='CrashRecoveryTests|StorageFailureTests|LifecycleProcessTests'
swift test --skip-build --skip "$process_suites"
swift test --skip-build --no-parallel --filter "$process_suites"
