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
# Builds run at nice 15 and fuzzing at nice 19 (shared machines: benchmarks may be running);
# FUZZ_JOBS targets fuzz at once (default: the core count).
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

# Every target: one build of the whole package (a build per product re-plans it each time,
# ~5 s apiece); a few named ones: those products.
start=$(date +%s)
if [ -z "${FUZZ_TARGETS:-}" ]; then builds=(all); else builds=($targets); fi
for b in "${builds[@]}"; do
  echo "== building $b"
  product=(); [ "$b" = all ] || product=(--product "$b")
  set +e
  nice -n 15 swift build "${flags[@]}" "${product[@]}" 2>&1 | grep -vE "ld.gold: warning: Cannot export local symbol|unhandled; explicitly declare"
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" -eq 0 ] || { echo "build of $b failed"; exit 1; }
done
for t in $targets; do [ -x "$scratch/release/$t" ] || { echo "build of $t failed: no $scratch/release/$t"; exit 1; }; done
echo "== build: $(( $(date +%s) - start )) s"
[ "$seconds" = 0 ] && exit 0  # build only

mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
summary=()

# One target's run; its summary line and (on failure) a mark land in $work. Targets run
# FUZZ_JOBS at a time (default: the core count): libFuzzer uses one core per run, so on CI's two
# cores two targets fuzz side by side and each still gets its full time.
fuzz_one() {
  local t=$1 corpus="$work/$1" log="$work/$1.log" rc runs cov
  mkdir -p "$corpus"
  [ -d "Fuzz/Corpus/$t" ] && cp -r "Fuzz/Corpus/$t/." "$corpus/"
  echo "== fuzzing $t for $seconds s ($(ls "$corpus" | wc -l) seeds)"
  set +e
  nice -n 19 "$scratch/release/$t" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/$t-" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 || true)
  echo "$t: rc=$rc runs=$runs $cov corpus=$(ls "$corpus" | wc -l)" > "$work/$t.summary"
  [ $rc -eq 0 ] || touch "$work/$t.failed"
  if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
    mkdir -p "$FUZZ_KEEP_CORPUS/$t" && cp -r "$corpus/." "$FUZZ_KEEP_CORPUS/$t/"
  fi
}

jobs_max="${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}"
for t in $targets; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  fuzz_one "$t" &
done
wait
for t in $targets; do
  summary+=("$(cat "$work/$t.summary" 2>/dev/null || echo "$t: no result")")
  if [ -e "$work/$t.failed" ] || [ ! -e "$work/$t.summary" ]; then
    failed+=("$t")
    echo "!! $t failed:"
    tail -60 "$work/$t.log" 2>/dev/null || true
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
