#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (ASan + libFuzzer) and runs each for N seconds (default
# 30) on a temporary copy of its checked-in corpus (Fuzz/Corpus/<target>). Fails if any target
# finds a crash, leak, timeout or OOM; the input is kept under $FUZZ_ARTIFACTS (default
# .build-fuzz/artifacts) and the output tail is printed.
#
#   scripts/fuzz.sh [seconds]            all targets (0: build only)
#   FUZZ_TARGETS="FuzzRTSP FuzzAMF0" scripts/fuzz.sh 600
#   FUZZ_KEEP_CORPUS=dir scripts/fuzz.sh  keep the grown corpora in dir/<target> (not the repo)
#
# Builds run at nice 15 and fuzzing at nice 19 (shared machines: benchmarks may be running).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
scratch="${FUZZ_SCRATCH:-.build-fuzz}"
artifacts="${FUZZ_ARTIFACTS:-$scratch/artifacts}"
targets="${FUZZ_TARGETS:-$(cd Fuzz/Sources && ls -d Fuzz* | grep -v '^FuzzSupport$' | tr '\n' ' ')}"
flags=(-c release --package-path Fuzz --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing)

# The fuzz package pins the same dependency versions as the main one.
[ -f Package.resolved ] && cp Package.resolved Fuzz/Package.resolved

start=$(date +%s)
for t in $targets; do
  echo "== building $t"
  set +e
  nice -n 15 swift build "${flags[@]}" --product "$t" 2>&1 | grep -vE "ld.gold: warning: Cannot export local symbol|unhandled; explicitly declare"
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" -eq 0 ] && [ -x "$scratch/release/$t" ] || { echo "build of $t failed"; exit 1; }
done
echo "== build: $(( $(date +%s) - start )) s"
[ "$seconds" = 0 ] && exit 0  # build only

mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
summary=()
for t in $targets; do
  corpus="$work/$t"
  mkdir -p "$corpus"
  [ -d "Fuzz/Corpus/$t" ] && cp -r "Fuzz/Corpus/$t/." "$corpus/"
  log="$work/$t.log"
  echo "== fuzzing $t for $seconds s ($(ls "$corpus" | wc -l) seeds)"
  set +e
  nice -n 19 "$scratch/release/$t" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/$t-" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 || true)
  summary+=("$t: rc=$rc runs=$runs $cov corpus=$(ls "$corpus" | wc -l)")
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "!! $t failed (rc=$rc):"
    tail -60 "$log"
  fi
  if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
    mkdir -p "$FUZZ_KEEP_CORPUS/$t" && cp -r "$corpus/." "$FUZZ_KEEP_CORPUS/$t/"
  fi
done
printf '%s\n' "== summary (${seconds} s per target)" "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (inputs under $artifacts)"
  exit 1
fi
