#!/usr/bin/env bash
# Installs the system packages Cohort needs on a fresh Debian machine that has the Swift toolchain.
# Idempotent: does nothing when everything is already present. Arguments name further Debian
# packages to install the same way (Scripts/test.sh adds python3 and python3-pip when missing).
set -euo pipefail

packages=(libsodium-dev pkg-config openssl curl "$@")
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]})); then
    echo "bootstrap: installing ${missing[*]}" >&2
    if [[ $(id -u) -eq 0 ]]; then sudo_cmd=(); else sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || { echo "bootstrap: the Swift toolchain (swift) is not on PATH; install Swift 6.1 or later" >&2; exit 1; }
