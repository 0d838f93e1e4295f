#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (ASan + libFuzzer) and runs each for N seconds (default
# 30) on a temporary copy of its checked-in corpus (Fuzz/Corpus/<target>). Fails if any target
# finds a crash, leak, timeout or OOM; the input is kept under $FUZZ_ARTIFACTS (default
# .build-fuzz/artifacts) and the output tail is printed.
#
#   scripts/fuzz.sh [seconds]            all targets (0: build only)
#   FUZZ_TARGETS="FuzzRTSP FuzzAMF0" scripts/fuzz.sh 600
#   FUZZ_KEEP_CORPUS=dir scripts/fuzz.sh  keep the grown corpora in dir/<target> (not the repo)
#   FUZZ_TRIGGERS=0 scripts/fuzz.sh 30   skip the trigger replays
#
# After fuzzing, the inputs in Fuzz/Triggers/<target> (the pipeline targets' slow defect
# triggers, 2-60 s each) are replayed once each, without the per-input time limit.
#
# Builds run at nice 15 and fuzzing at nice 19 (shared machines: benchmarks may be running).
# Swift's per-process hash seed would change Dictionary order between runs (the order a Source
# feeds its TransStreams, say): fixed, so an input replays the same way. Swift's own crash
# backtracer is off: libFuzzer and ASan print the stack, and the backtracer could hang on a
# sanitized crash (holding the log pipe open).
set -euo pipefail
export SWIFT_DETERMINISTIC_HASHING=1 SWIFT_BACKTRACE=enable=no
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
if [ "${FUZZ_TRIGGERS:-1}" != 0 ]; then
  for t in $targets; do
    [ -d "Fuzz/Triggers/$t" ] || continue
    for input in Fuzz/Triggers/"$t"/*; do
      log="$work/$t-trigger.log"
      echo "== replaying $input"
      started=$(date +%s)
      set +e
      FUZZ_INPUT_SECONDS=0 FUZZ_EXPAND_LIMIT=8388608 nice -n 19 "$scratch/release/$t" -timeout=300 -rss_limit_mb=4096 \
        -artifact_prefix="$artifacts/$t-trigger-" "$input" >"$log" 2>&1
      rc=$?
      set -e
      summary+=("$t trigger $(basename "$input"): rc=$rc $(( $(date +%s) - started )) s")
      if [ $rc -ne 0 ]; then
        failed+=("$t:$(basename "$input")")
        echo "!! $input failed (rc=$rc):"
        tail -60 "$log"
      fi
    done
  done
fi
printf '%s\n' "== summary (${seconds} s per target)" "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (inputs under $artifacts)"
  exit 1
fi
