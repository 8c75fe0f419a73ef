#!/usr/bin/env bash
# Runs every fuzz target of build/fuzz (or those named) for SECONDS each, one after the other, each a
# single libFuzzer process (the machines have 2 cores), and fails if any target found a crash.
#   fuzz/run.sh SECONDS [TARGET...]
# Environment: FUZZ_BUILD (default build/fuzz), FUZZ_NICE (default 0; the long run uses 19),
# FUZZ_ARGS (extra libFuzzer flags).
# Each target reads its seeds from fuzz/corpus/<target>/ (committed) and keeps what it finds in
# $FUZZ_BUILD/corpus/<target>/ (not committed), so later runs start where earlier ones stopped.
# A crashing input is written to $FUZZ_BUILD/artifacts/<target>/ and the run fails; turn it into a
# regression test (docs/FUZZING.md). The last line of each target's log, libFuzzer's "DONE cov: ...
# ft: ..." with its execution count, is echoed; the whole log is $FUZZ_BUILD/logs/<target>.log.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
build=${FUZZ_BUILD:-build/fuzz}
targets=("$@")
if ((${#targets[@]} == 0)); then
  for d in fuzz/corpus/*/; do targets+=("$(basename "$d")"); done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# Symbolized stacks in reports: Debian's llvm-14 has the symbolizer under its own prefix.
[ -x /usr/lib/llvm-14/bin/llvm-symbolizer ] && export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-14/bin/llvm-symbolizer}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$PWD/fuzz/ubsan.supp
failed=()
for t in "${targets[@]}"; do
  bin=$build/fuzz_$t
  [ -x "$bin" ] || { echo "fuzz: $bin is not built (make fuzz-build)" >&2; exit 2; }
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t" "$build/logs"
  dict=()
  case $t in http_json_* | ws_json | legacy | client_json | jwt) dict=(-dict=fuzz/json.dict) ;; esac
  # -max_len: the bodies worth mutating are small; 64 KiB leaves room for deep nesting and long strings.
  # -timeout: an input taking 10 s is a hang, reported like a crash. -rss_limit_mb: an input that makes
  # a decoder allocate without bound is reported too.
  nice -n "${FUZZ_NICE:-0}" "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$t/" "${dict[@]}" ${FUZZ_ARGS:-} \
    "$build/corpus/$t" "fuzz/corpus/$t" >"$build/logs/$t.log" 2>&1
  rc=$?
  summary=$(grep -E 'cov: [0-9]+ ft: [0-9]+' "$build/logs/$t.log" | tail -1)
  if ((rc != 0)); then
    failed+=("$t")
    echo "fuzz: $t FAILED (exit $rc); log: $build/logs/$t.log, inputs: $build/artifacts/$t/" >&2
    grep -E 'ERROR|FUZZ_CHECK|runtime error|SUMMARY' "$build/logs/$t.log" | head -5 >&2
  else
    echo "fuzz: $t ${seconds}s: ${summary:-no summary (see $build/logs/$t.log)}"
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: crashes in: ${failed[*]}" >&2
  exit 1
fi
