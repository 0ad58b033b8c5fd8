#!/usr/bin/env bash
# fuzz/run.sh DURATION_SECONDS - builds the libFuzzer targets and runs each for DURATION seconds.
#
#   1. configures and builds build-fuzz with clang-14, ASan and UBSan (needs clang-14 and
#      libclang-rt-14-dev: apt-get install -y clang-14 libclang-rt-14-dev)
#   2. replays fuzz/regressions/<target>/* through each target: crashes found earlier stay fixed
#   3. makes the seeds (fuzz/make_corpus.sh) and merges those that add coverage into
#      build-fuzz/corpus-{decode,capture,report}; new inputs libFuzzer finds are added there and kept
#      across runs
#   4. runs fuzz_decode, fuzz_capture, then fuzz_report, one process at a time (-jobs=1 -workers=1)
# Exits non-zero when a replay fails or a fuzzer finds a crash, leak, timeout or invariant
# violation; the input is left as build-fuzz/artifacts/<target>/crash-* (or leak-*, timeout-*)
# and printed in hex. Copy it to fuzz/regressions/<target>/ once the bug is understood.
set -euo pipefail
if [ $# -ne 1 ] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 DURATION_SECONDS" >&2
  exit 2
fi
duration=$1
cd "$(dirname "$0")/.."
build="build-fuzz"

CC=${CC:-clang-14} cmake -S . -B "$build" -DNASOONE_FUZZ=ON -DNASOONE_TESTS=OFF -DNASOONE_WERROR=ON \
  -DNASOONE_SANITIZE=address,undefined >/dev/null
cmake --build "$build" --target fuzz_decode fuzz_capture fuzz_report -j "$(nproc)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# fuzz_capture's files: removed at the end even when a crash leaves some behind
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nasoone-fuzz-run-XXXXXX")
export NASOONE_FUZZ_TMPDIR=$tmp
trap 'rm -rf "$tmp"' EXIT

# Per target: flags beyond the common ones. Frames need few bytes; capture files more.
declare -A extra=(
  [fuzz_decode]="-max_len=4096"
  [fuzz_capture]="-max_len=65536"
  [fuzz_report]="-max_len=8192"
)
targets=(fuzz_decode fuzz_capture fuzz_report)

echo "== replaying fuzz/regressions"
for t in "${targets[@]}"; do
  inputs=(fuzz/regressions/"$t"/*)
  if [ -e "${inputs[0]}" ]; then
    "$build/fuzz/$t" -runs=1 "${inputs[@]}" >/dev/null 2>"$tmp/replay.log" || {
      cat "$tmp/replay.log" >&2
      echo "== $t: a regression input fails again" >&2
      exit 1
    }
    echo "$t: ${#inputs[@]} regression inputs pass"
  else
    echo "$t: no regression inputs"
  fi
done

echo "== seed corpora"
# The seeds go through libFuzzer's merge: corpus-<name> keeps those that add coverage (and
# whatever earlier runs found), not thousands of near-identical frames.
rm -rf "$build/corpus-seeds"
bash fuzz/make_corpus.sh "$build/corpus-seeds"
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  mkdir -p "$build/corpus-$name" "$build/merge-artifacts/$t"
  rm -f "$build/merge-artifacts/$t"/*
  # shellcheck disable=SC2086 # extra flags are words
  "$build/fuzz/$t" -merge=1 ${extra[$t]} -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$build/merge-artifacts/$t/" \
    "$build/corpus-$name" "$build/corpus-seeds/$name" >"$build/merge-$t.log" 2>&1 || {
      tail -20 "$build/merge-$t.log" >&2
      echo "== $t: merging the seeds failed (a seed crashes?)" >&2
      exit 1
    }
  # a merge carries on past an input that fails: any such input fails the run
  if [ -n "$(ls -A "$build/merge-artifacts/$t")" ]; then
    grep -E 'invariant violated|^==[0-9]+==|SUMMARY' "$build/merge-$t.log" | head -20 >&2 || true
    echo "== $t: an input of the corpus fails: $build/merge-artifacts/$t/" >&2
    exit 1
  fi
  echo "$t: $(find "$build/corpus-$name" -type f | wc -l) inputs in $build/corpus-$name after the merge"
done

status=0
root=$(pwd)
for t in "${targets[@]}"; do
  corpus=$root/$build/corpus-${t#fuzz_}
  artifacts=$root/$build/artifacts/$t
  # -jobs=1 -workers=1: libFuzzer runs one fuzzing child and writes its output to fuzz-0.log
  # in the current folder, hence a folder per target.
  work=$root/$build/run-$t
  rm -rf "$artifacts"   # crash inputs of an earlier run: copy them to fuzz/regressions first
  mkdir -p "$artifacts" "$work"
  rm -f "$work"/fuzz-*.log
  log=$work/fuzz-0.log
  echo "== $t for ${duration}s (log: $build/run-$t/fuzz-0.log)"
  # shellcheck disable=SC2086 # extra flags are words
  if (cd "$work" && "$root/$build/fuzz/$t" "$corpus" -max_total_time="$duration" -timeout=10 \
        -rss_limit_mb=2048 -jobs=1 -workers=1 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" ${extra[$t]} >"$work/driver.log" 2>&1); then
    grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || tail -1 "$log"
    grep -E '^stat::' "$log" | awk '!seen[$0]++' || true
    echo "$t: corpus $(find "$corpus" -type f | wc -l) files in $build/corpus-${t#fuzz_}"
  else
    status=1
    echo "== $t FOUND A PROBLEM (whole log: $build/run-$t/fuzz-0.log)" >&2
    if [ -f "$log" ]; then
      # the report: sanitizer or invariant message, the stack, the input
      grep -E '^==[0-9]+==|SUMMARY|invariant violated|runtime error|^ +#[0-9]+ |Test unit' "$log" \
        | awk '!seen[$0]++' | head -50 >&2 || true
    else
      cat "$work/driver.log" >&2
    fi
  fi
  for f in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-*; do
    [ -e "$f" ] || continue
    status=1
    echo "-- $f ($(stat -c %s "$f") bytes), hex:" >&2
    xxd -p "$f" | head -20 >&2
  done
done
exit $status
