#!/usr/bin/env bash
# Regenerate the counterexamples the reference implementation replays (checks/tests/regressions.rs,
# regressions_failover.rs, regressions_global.rs, regressions_backtrack.rs): for every mutant of
# every protocol the implementation covers, the checker's shortest counterexample of the
# mutant's named property on the config the suite (checks/suite.toml) catches it on, as a trace
# file (specs/trace-format.md; `quorate trace show FILE` prints it).
# Usage, from the repository root:
#   cargo build --release -p quorate && bash checks/regressions/generate.sh [PROTOCOL...]
# (default: every protocol below; a few minutes per failover mutant, up to 8 GB; global and
# backtrack take about a second each).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=target/release/quorate
protocols=("$@")
[ ${#protocols[@]} -gt 0 ] || protocols=(quorum failover global backtrack)
for protocol in "${protocols[@]}"; do
  mkdir -p "checks/regressions/$protocol"
  python3 - "$protocol" <<'PY' | while read -r mutant config property; do
import sys, tomllib
with open("checks/suite.toml", "rb") as f:
    suite = tomllib.load(f)
for c in suite["check"]:
    if c["protocol"] == sys.argv[1] and c.get("mutant"):
        print(c["mutant"], c["config"], c["property"])
PY
    echo "$protocol/$mutant on $config: $property"
    out="checks/regressions/$protocol/$mutant.json"
    rm -f "$out"
    # Exit 1 is the expected violation. The search stops at the first level with a violation;
    # if the named property is not among those, search on (--keep-going) until it fails.
    "$bin" check "$protocol" --config "$config" --mutant "$mutant" --trace-of "$property" \
      --trace-out "$out" > /dev/null || [ $? -eq 1 ]
    if [ ! -f "$out" ]; then
      "$bin" check "$protocol" --config "$config" --mutant "$mutant" --trace-of "$property" \
        --keep-going --trace-out "$out" > /dev/null || [ $? -eq 1 ]
    fi
  done
done
