#!/usr/bin/env bash
# Checks Sources/ and Tests/ against .swift-format without changing them; any finding is an error
# (--strict). Fix formatting findings with Scripts/format.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
swift format lint --strict --recursive --parallel Sources Tests Package.swift
