#!/usr/bin/env bash
# Side-by-side checker speed on the quorum-register benchmark (../shared/bench): quorate on 1
# and 2 threads, SPIN (one core, -O2 -DSAFETY, DFS with its default hash-compact storage off),
# and TLC when tla2tools.jar is given. Prints one line per run: distinct states, seconds,
# distinct states per second and peak RSS. A benchmark, not a test: nothing is asserted.
#
# Usage (from the repository root): bash checks/bench/register.sh [path/to/tla2tools.jar]
# Needs: cargo; for SPIN `apt-get install spin` and gcc; for TLC a JDK and tla2tools.jar.
set -euo pipefail
cd "$(dirname "$0")/../.."
bench=${BENCH_DIR:-../shared/bench}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
row() { printf '%-28s %12s %9s %14s %10s\n' "$@"; }
row checker distinct seconds distinct/s "peak RSS"

cargo build --release -q -p quorate
for t in 1 2; do
  /usr/bin/time -f '%e %M' -o "$tmp/time" target/release/quorate check register --threads "$t" --format json >"$tmp/q.json"
  read -r secs kb <"$tmp/time"
  distinct=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["states_unique"])' "$tmp/q.json")
  row "quorate bfs, $t thread(s)" "$distinct" "$secs" "$(python3 -c "print(round($distinct/max($secs,0.01)))")" "$((kb / 1024)) MB"
done

if command -v spin >/dev/null && [ -f "$bench/quorum.pml" ]; then
  cp "$bench/quorum.pml" "$tmp/" && (cd "$tmp" && spin -a quorum.pml >/dev/null && gcc -O2 -DSAFETY -DMEMLIM=16000 -o pan pan.c)
  /usr/bin/time -f '%e %M' -o "$tmp/time" "$tmp/pan" -m100000 >"$tmp/spin.out" 2>&1 || true
  read -r secs kb <"$tmp/time"
  distinct=$(awk '/states, stored/ {print $1; exit}' "$tmp/spin.out")
  row "spin -O2 -DSAFETY, 1 core" "$distinct" "$secs" "$(python3 -c "print(round($distinct/max($secs,0.01)))")" "$((kb / 1024)) MB"
else
  echo "spin: not installed (apt-get install spin) or $bench/quorum.pml missing; skipped"
fi

jar=${1:-}
if [ -n "$jar" ] && command -v java >/dev/null; then
  cp "$bench/QuorumRegister.tla" "$tmp/"
  printf 'CONSTANTS N = 6\nW = 4\nR = 3\nK = 2\nINIT Init\nNEXT Next\nINVARIANT ReadSeesLastAck\n' >"$tmp/QuorumRegister.cfg"
  /usr/bin/time -f '%e %M' -o "$tmp/time" java -XX:+UseParallelGC -cp "$jar" tlc2.TLC -workers 1 -nowarning \
    -metadir "$tmp/states" "$tmp/QuorumRegister.tla" >"$tmp/tlc.out" 2>&1 || true
  read -r secs kb <"$tmp/time"
  distinct=$(grep -oE '[0-9,]+ distinct states found' "$tmp/tlc.out" | tail -1 | tr -d ',' | awk '{print $1}')
  row "tlc, 1 worker" "${distinct:-?}" "$secs" "$(python3 -c "print(round(${distinct:-0}/max($secs,0.01)))")" "$((kb / 1024)) MB"
else
  echo "tlc: pass the path to tla2tools.jar (and have java) to include it"
fi
