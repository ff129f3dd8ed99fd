#!/bin/bash
# tools/fuzz.sh [seconds] [target…]: builds tests/fuzz/ with clang as
# libFuzzer programs (ASan + UBSan, the library instrumented too) in
# _build-fuzz, and runs each target for [seconds] (default 60) on a copy
# of its seed corpus, niced.  Prints the executions of each run and the
# total; exits non-zero if a target found a crash (the input is left in
# _build-fuzz/findings/TARGET/).  An input that runs longer than
# $FUZZ_TIMEOUT seconds (default 60: a niced run on a busy machine can be
# descheduled for a while) counts as a hang.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${1:-60}
timeout=${FUZZ_TIMEOUT:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz-wire fuzz-types fuzz-ring fuzz-manager fuzz-tcp fuzz-pool-dbus)

if [ ! -d _build-fuzz ]; then
  CC=clang CFLAGS="-fsanitize=fuzzer-no-link -fno-omit-frame-pointer" \
    meson setup _build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
      -Dintrospection=disabled -Dbenchmarks=false >/dev/null
fi
nice ninja -C _build-fuzz $(printf 'tests/fuzz/%s ' "${targets[@]}") >/dev/null

# handle_sigtrap: a fatal GLib critical (G_BREAKPOINT) then saves its input
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:handle_sigtrap=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export G_DEBUG=fatal-criticals
total=0
failed=0
for t in "${targets[@]}"; do
  work=_build-fuzz/corpus/$t
  findings=_build-fuzz/findings/$t
  mkdir -p "$work" "$findings"
  cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  log=_build-fuzz/$t.log
  if nice -n 10 _build-fuzz/tests/fuzz/"$t" -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=4096 \
       -print_final_stats=1 -artifact_prefix="$findings"/ "$work" >"$log" 2>&1; then
    status=ok
  elif grep -q 'libFuzzer: timeout' "$log"; then
    status=HANG
    failed=1
  else
    status=CRASH
    failed=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs=${execs:-0}
  total=$((total + execs))
  echo "$t: $execs executions, $status (log: $log)"
done
echo "total: $total executions"
exit $failed
