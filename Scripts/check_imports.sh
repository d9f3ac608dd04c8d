#!/usr/bin/env bash
# Package.swift declares exactly what each target imports: every module a target's sources import
# is one of its declared dependencies, and every declared dependency is imported somewhere in the
# target. Toolchain modules (Foundation, Glibc, Testing, …) are not dependencies and are ignored.
# Run by Scripts/test.sh; exits 1 with one line per mismatch.
set -euo pipefail
cd "$(dirname "$0")/.."
swift package dump-package >"${TMPDIR:-/tmp}/cohort-package.$$.json"
trap 'rm -f "${TMPDIR:-/tmp}/cohort-package.$$.json"' EXIT
python3 - "${TMPDIR:-/tmp}/cohort-package.$$.json" <<'PY'
import json, os, re, sys

package = json.load(open(sys.argv[1]))
# Modules the toolchain provides; a target never declares them.
TOOLCHAIN = {
    "Foundation", "FoundationEssentials", "FoundationNetworking", "Glibc", "Musl", "Darwin", "Dispatch",
    "Synchronization", "Testing", "XCTest", "_Concurrency", "_StringProcessing", "Android", "WinSDK", "os",
}
# A product whose module name differs from the product name (none today; keep the table explicit).
PRODUCT_MODULES = {}
IMPORT = re.compile(
    r"^\s*(?:@[A-Za-z_]+(?:\([^)]*\))?\s+)*import\s+"
    r"(?:(?:typealias|struct|class|enum|protocol|let|var|func)\s+)?([A-Za-z_][A-Za-z0-9_]*)"
)

def declared(target):
    names = set()
    for dep in target.get("dependencies", []):
        kind, value = next(iter(dep.items()))
        if kind in ("byName", "target"):
            names.add(value[0])
        elif kind == "product":
            names.add(PRODUCT_MODULES.get(value[0], value[0]))
    return names

def imported(directory):
    names = {}
    for root, _, files in os.walk(directory):
        for name in sorted(files):
            if not name.endswith(".swift"):
                continue
            path = os.path.join(root, name)
            in_block_comment = False
            in_string = False
            for line in open(path, encoding="utf-8"):
                stripped = line.strip()
                # Multi-line string literals (embedded Python scripts, say) hold no imports.
                if stripped.count('"""') % 2 == 1:
                    in_string = not in_string
                    continue
                if in_string:
                    continue
                if in_block_comment:
                    in_block_comment = "*/" not in stripped
                    continue
                if stripped.startswith("/*"):
                    in_block_comment = "*/" not in stripped
                    continue
                match = IMPORT.match(line)
                if match:
                    names.setdefault(match.group(1), path)
    return names

failures = []
for target in package["targets"]:
    if target["type"] in ("system", "binary", "plugin", "macro"):
        continue
    name = target["name"]
    directory = target.get("path") or os.path.join("Tests" if target["type"] == "test" else "Sources", name)
    uses = imported(directory)
    deps = declared(target)
    for module, path in sorted(uses.items()):
        if module not in TOOLCHAIN and module not in deps and module != name:
            failures.append(f"{name}: {path} imports {module}, which Package.swift does not declare; add it to {name}'s dependencies")
    for module in sorted(deps - set(uses)):
        failures.append(f"{name}: declares {module} but no source file imports it; remove it from {name}'s dependencies")

# Dependency boundaries (shared/STYLE.md habit 1): the `cohort` CLI an auditor builds never links the
# coordinator or the API server; the accountant and the ledger link no networking.
NETWORKING = {"NIOCore", "NIOPosix", "NIOSSL", "NIOTLS", "NIOHTTP1", "CohortTransport"}
FORBIDDEN = {
    "cohort": {"CohortCoordinator", "CohortOperatorAPI"},
    "CohortCLI": {"CohortCoordinator", "CohortOperatorAPI"},
    "CohortAPITypes": {"CohortCoordinator"} | NETWORKING,
    "CohortAPIClient": {"CohortCoordinator", "CohortOperatorAPI"},
    "CohortPrivacy": NETWORKING,
    "CohortLedger": NETWORKING,
}
graph = {target["name"]: declared(target) for target in package["targets"]}

def closure(name):
    seen, stack = set(), [name]
    while stack:
        for dep in graph.get(stack.pop(), ()):
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen

for name, banned in FORBIDDEN.items():
    for module in sorted(closure(name) & banned):
        failures.append(f"{name}: depends (directly or through another target) on {module}, which it must not link")

for line in failures:
    print(f"check_imports: {line}", file=sys.stderr)
if failures:
    sys.exit(1)
print(f"check_imports: {len(package['targets'])} targets, dependencies equal imports")
PY
