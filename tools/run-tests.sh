#!/bin/bash
# Installs what is needed, builds mproc-glib twice and runs the whole test
# suite: the C tests and the examples' checks under AddressSanitizer and
# UndefinedBehaviorSanitizer (leaks and memory errors fail them), and the
# GObject-introspection tests on a normal build (introspection and ASan do
# not mix). Ends with a line "N passed, N failed".
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

"$top/tools/install-deps.sh" || exit 1

status=0
passed=0
failed=0
skipped=0

run_suite () {
  local build=$1; shift
  local setup_args=("$@")
  local log

  if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$top" "${setup_args[@]}" >/dev/null || { failed=$((failed + 1)); status=1; return; }
  fi
  if ! ninja -C "$build"; then
    failed=$((failed + 1)); status=1; return
  fi
  meson test -C "$build" --no-rebuild --print-errorlogs $SUITES || status=1

  # meson's summary, test by test, from its JSON log
  log=$build/meson-logs/testlog.json
  if [ -f "$log" ]; then
    read -r p f s < <(/usr/bin/python3 - "$log" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line)['result']
    if r in ('OK', 'EXPECTEDFAIL'):
        p += 1
    elif r == 'SKIP':
        s += 1
    else:
        f += 1
print(p, f, s)
PY
)
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  fi
}

SUITES="--suite mproc --suite examples"
run_suite "$top/_build-asan" -Db_sanitize=address,undefined -Db_lundef=false \
  -Dintrospection=disabled -Dbenchmarks=false
SUITES="--suite gi"
# docs, i18n and install (#8): the reference is built (gi-docgen, fatal
# warnings) and checked, the translations checked, and an install and the
# dist tarball tried, on this build.
SUITES="$SUITES --suite docs --suite i18n --suite install"
# the GTK 4 example under Xvfb
SUITES="$SUITES --suite gtk"
if [ -f "$top/_build/build.ninja" ] && ! grep -q '"name": "documentation", "value": true' \
     "$top/_build/meson-info/intro-buildoptions.json" 2>/dev/null; then
  meson configure "$top/_build" -Ddocumentation=true >/dev/null
fi
run_suite "$top/_build" -Dintrospection=enabled -Dbenchmarks=false -Ddocumentation=true

echo
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] || status=1
exit $status
