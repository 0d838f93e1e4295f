#!/usr/bin/env bash
# Prints the package's own module graph (targets and the package targets each depends on;
# external products left out), one line per target, from `swift package dump-package`.
#   scripts/module-graph.sh            this checkout
#   scripts/module-graph.sh REV        Package.swift as of git revision REV (read in a temp copy)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.
if [ $# -gt 0 ]; then
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  git archive "$1" Package.swift Sources Tests bench/floor | tar -x -C "$dir"
fi
swift package --package-path "$dir" dump-package 2>/dev/null | python3 -c '
import json, sys
pkg = json.load(sys.stdin)
names = {t["name"] for t in pkg["targets"]}
for t in pkg["targets"]:
    deps = []
    for d in t["dependencies"]:
        kind, value = next(iter(d.items()))
        name = value[0]
        if name in names: deps.append(name)
    kind = {"regular": "", "executable": " (executable)", "test": " (tests)"}.get(t["type"], " (" + t["type"] + ")")
    print(t["name"] + kind + " -> " + (", ".join(deps) if deps else "-"))
'
