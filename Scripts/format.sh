#!/usr/bin/env bash
# Formats Sources/ and Tests/ in place with the toolchain's swift-format and the repository's
# .swift-format (4 spaces, 120 columns, swift-nio's rule set). Then Scripts/lint.sh is clean.
set -euo pipefail
cd "$(dirname "$0")/.."
swift format format --in-place --recursive --parallel Sources Tests Package.swift
