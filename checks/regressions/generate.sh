#!/usr/bin/env bash
# Regenerate the counterexamples the reference implementation replays
# (checks/tests/regressions.rs): for every mutant of every protocol the implementation covers,
# the checker's shortest counterexample of the mutant's named property on the `ci` config,
# as a trace file (specs/trace-format.md; `quorate trace show FILE` prints it).
# Usage, from the repository root: cargo build --release -p quorate && bash checks/regressions/generate.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=target/release/quorate
for protocol in quorum; do
  mkdir -p "checks/regressions/$protocol"
  "$bin" list --format json | python3 -c '
import json, sys
for p in json.load(sys.stdin)["protocols"]:
    if p["name"] == sys.argv[1]:
        for m in p["mutants"]:
            print(m["name"], m["caught_by"])
' "$protocol" | while read -r mutant property; do
    echo "$protocol/$mutant: $property"
    # Exit 1 is the expected violation.
    # --keep-going: the named property may fail at a later level than another one.
    "$bin" check "$protocol" --config ci --mutant "$mutant" --trace-of "$property" --keep-going \
      --trace-out "checks/regressions/$protocol/$mutant.json" > /dev/null || [ $? -eq 1 ]
  done
done
