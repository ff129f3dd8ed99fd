#!/bin/bash
# Installs what is needed, builds mproc-glib and runs the seed chapter's
# examples (../shared/seed/scenarios.md) that exist so far, in the chapter's
# order. Pass MPROC_START_METHOD=fork|spawn|forkserver to choose how the
# examples start their processes.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/_build-examples

"$top/tools/install-deps.sh"
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$top" -Dtests=false -Dbenchmarks=false -Dintrospection=disabled >/dev/null
fi
ninja -C "$build" >/dev/null

# The seed's order: §1 … §10.
order=(user-object producer-consumer joinable-queue event lock condition semaphore
       manager-dict namespaces namespaces-mutable manager-list-model pool pool-maxtasksperchild)

ran=0
for name in "${order[@]}"; do
  exe=$build/examples/$name
  [ -x "$exe" ] || continue
  echo "== $name"
  "$exe"
  echo
  ran=$((ran + 1))
done
echo "$ran examples ran"
