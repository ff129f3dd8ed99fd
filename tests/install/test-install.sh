#!/bin/bash
# Installs mproc-glib to a temporary prefix with `meson install` and uses it
# as a user would: checks that every file lands where GNOME expects it,
# builds a program out of the tree with `pkg-config --cflags --libs
# mproc-glib-1` and runs it, imports Mproc from /usr/bin/python3 with only
# GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing at the prefix, and sees one
# failing call's message in Japanese under LANGUAGE=ja (the library binds
# its text domain to the prefix's localedir).
#
# test-install.sh SOURCE-DIR WORK-DIR INTROSPECTION(true|false) DOCS(true|false)
set -euo pipefail

src=$1
work=$2
gir=$3
docs=$4
here=$(cd "$(dirname "$0")" && pwd)

# Its own build, configured for the prefix: the prefix is baked into the
# library (LOCALEDIR), as in any distribution build. Kept between runs, so
# that a rerun only rebuilds what changed; the prefix is made afresh.
build=$work/build
prefix=$work/prefix
mkdir -p "$work"
introspection=disabled
[ "$gir" = true ] && introspection=enabled
# Configured afresh when the options change.
if [ "$(cat "$work/options" 2>/dev/null)" != "$introspection $docs" ]; then
  rm -rf "$build"
fi
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$src" --prefix="$prefix" --libdir=lib \
    -Dtests=false -Dexamples=false -Dbenchmarks=false \
    -Dintrospection=$introspection -Ddocumentation="$docs" >/dev/null
  echo "$introspection $docs" > "$work/options"
fi
ninja -C "$build" >/dev/null
rm -rf "$prefix"
meson install -C "$build" --no-rebuild --quiet

fail=0
check () {
  if [ -e "$prefix/$1" ]; then
    echo "ok: $1"
  else
    echo "FAIL: $1 is not installed"; fail=1
  fi
}

check lib/libmproc-glib-1.so
check lib/libmproc-glib-1.so.0
check include/mproc-glib-1/mproc.h
check include/mproc-glib-1/mproc-queue.h
check include/mproc-glib-1/mproc-version.h
check include/mproc-glib-1/mproc-enum-types.h
check lib/pkgconfig/mproc-glib-1.pc
check share/locale/ja/LC_MESSAGES/mproc-glib.mo
check share/dbus-1/interfaces/org.gnome.Mproc.Manager.xml
# D-Bus worker services: headers, interfaces, the service and its activation
check include/mproc-glib-1/mproc-pool-dbus.h
check include/mproc-glib-1/mproc-shared-dbus.h
check include/mproc-glib-1/mproc-worker-module.h
check share/dbus-1/interfaces/org.gnome.Mproc.Pool1.xml
check share/dbus-1/interfaces/org.gnome.Mproc.SharedDict1.xml
check share/dbus-1/interfaces/org.gnome.Mproc.SharedNamespace1.xml
check share/dbus-1/services/org.gnome.Mproc.WorkerService.service
check lib/systemd/user/mproc-worker-service.service
check libexec/mproc-worker-service
if [ "$gir" = true ]; then
  check lib/python3/dist-packages/gi/overrides/Mproc.py
  check share/gjs-1.0/overrides/Mproc.js
  check share/gir-1.0/Mproc-1.gir
  check lib/girepository-1.0/Mproc-1.typelib
fi
if [ "$docs" = true ]; then
  check share/doc/mproc-glib-1/index.html
  check share/doc/mproc-glib-1/mproc-glib-1.devhelp2
  check share/doc/mproc-glib-1/class.Queue.html
  check share/doc/mproc-glib-1/guide.html
  check share/doc/mproc-glib-1/guide-dbus.html
fi
# Nothing private leaks into the include directory.
if ls "$prefix/include/mproc-glib-1" | grep -q private; then
  echo "FAIL: a private header is installed"; fail=1
fi

# Out of the tree: a C program built with pkg-config alone.
out=$(mktemp -d /tmp/docs-install-XXXXXX)
trap 'rm -rf "$out"' EXIT
cp "$here/installed-hello.c" "$out/"
flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs mproc-glib-1)
echo "pkg-config: $flags"
case "$flags" in
  *"-I$prefix/include/mproc-glib-1"*) ;;
  *) echo "FAIL: pkg-config does not point at the prefix"; fail=1 ;;
esac
(cd "$out" && ${CC:-cc} -o installed-hello installed-hello.c $flags -rdynamic)

run_c () {
  env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$prefix/lib" "$@" "$out/installed-hello"
}
expect () {  # expect WHAT EXPECTED ACTUAL
  if printf '%s\n' "$3" | grep -qxF -- "$2"; then
    echo "ok: $1: $2"
  else
    printf 'FAIL: %s: expected "%s", got:\n%s\n' "$1" "$2" "$3"; fail=1
  fi
}

got=$(run_c LC_ALL=C.UTF-8)
expect "C program" "exit code 9" "$got"
expect "C program, untranslated" "error: The queue is empty" "$got"
# C.UTF-8 is always there on glibc ≥ 2.35, and gettext honours LANGUAGE
# under it (not under plain C).
got=$(run_c LC_ALL=C.UTF-8 LANGUAGE=ja)
expect "C program, LANGUAGE=ja" "error: キューは空です" "$got"
got=$(run_c LANG=C.UTF-8 LANGUAGE=ja:en)
expect "C program, LANGUAGE=ja:en" "error: キューは空です" "$got"

# A worker-service module out of the tree, from the installed header.
(cd "$out" && ${CC:-cc} -shared -fPIC -o installed-module.so "$here/installed-module.c" $flags)
if nm -D --defined-only "$out/installed-module.so" | grep -q ' T mproc_worker_module_init$'; then
  echo "ok: a worker-service module builds with pkg-config"
else
  echo "FAIL: the module does not export mproc_worker_module_init"; fail=1
fi
# The service's modules directory is there, empty, for packages to fill.
if [ -d "$prefix/lib/mproc-worker-service/modules" ]; then
  echo "ok: lib/mproc-worker-service/modules is a directory"
else
  echo "FAIL: the modules directory is not created"; fail=1
fi
# The systemd user unit: in systemd's user unit directory (pkg-config
# systemd, relative to the prefix), starting the installed service, and
# accepted by systemd-analyze where it is available.
unitdir=lib/systemd/user
if pkg-config --exists systemd; then
  unitdir=$(pkg-config --define-variable=prefix="$prefix" --variable=systemduserunitdir systemd)
  unitdir=${unitdir#"$prefix"/}
fi
unit=$prefix/$unitdir/mproc-worker-service.service
check "$unitdir/mproc-worker-service.service"
expect "unit ExecStart" "ExecStart=$prefix/libexec/mproc-worker-service" "$(cat "$unit" 2>/dev/null)"
expect "unit BusName" "BusName=org.gnome.Mproc.WorkerService" "$(cat "$unit" 2>/dev/null)"
expect "D-Bus activation through the unit" "SystemdService=mproc-worker-service.service" \
  "$(cat "$prefix/share/dbus-1/services/org.gnome.Mproc.WorkerService.service")"
if command -v systemd-analyze >/dev/null; then
  # --user needs a runtime directory, not a running user manager
  rt=$(mktemp -d /tmp/mproc-unit-XXXXXX)
  if verify=$(XDG_RUNTIME_DIR=$rt systemd-analyze --user verify --man=no "$unit" 2>&1) && [ -z "$verify" ]; then
    echo "ok: systemd-analyze --user verify accepts the unit"
  else
    printf 'FAIL: systemd-analyze --user verify:\n%s\n' "$verify"; fail=1
  fi
  rm -rf "$rt"
else
  echo "skip: systemd-analyze is not installed"
fi

# The service speaks the user's language too.
got=$(env -i PATH=/usr/bin:/bin LC_ALL=C.UTF-8 LANGUAGE=ja LD_LIBRARY_PATH="$prefix/lib" \
      "$prefix/libexec/mproc-worker-service" --help)
expect "mproc-worker-service --help, LANGUAGE=ja" \
  "ワーカープロセスのプールをセッションバスで提供します: D-Bus クライアントは" "$got"

if [ "$gir" = true ]; then
  py () {
    env -i PATH=/usr/bin:/bin "$@" /usr/bin/python3 "$here/installed-import.py"
  }
  # Without the prefix on the paths the typelib is nowhere to be found, so
  # what follows uses the prefix's.
  if py LC_ALL=C.UTF-8 >/dev/null 2>&1; then
    echo "FAIL: Mproc imports without the prefix (another copy is installed)"; fail=1
  fi
  got=$(py LC_ALL=C.UTF-8 LANGUAGE=ja GI_TYPELIB_PATH="$prefix/lib/girepository-1.0" LD_LIBRARY_PATH="$prefix/lib")
  expect "Python, LANGUAGE=ja" "error: キューは空です" "$got"
  # The override module, from the prefix's Python directory.
  got=$(env -i PATH=/usr/bin:/bin LC_ALL=C.UTF-8 LANGUAGE=ja \
        PYTHONPATH="$prefix/lib/python3/dist-packages" \
        GI_TYPELIB_PATH="$prefix/lib/girepository-1.0" LD_LIBRARY_PATH="$prefix/lib" \
        /usr/bin/python3 "$here/installed-override.py")
  expect "Python override" "map: [0, 2, 4, 6]" "$got"
  expect "Python override, LANGUAGE=ja" "error: キューは空です" "$got"
  # The GJS override, found by GJS in $XDG_DATA_DIRS/gjs-1.0/overrides.
  if command -v gjs >/dev/null; then
    got=$(env -i PATH=/usr/bin:/bin LC_ALL=C.UTF-8 XDG_DATA_DIRS="$prefix/share:/usr/share" \
          GI_TYPELIB_PATH="$prefix/lib/girepository-1.0" LD_LIBRARY_PATH="$prefix/lib" \
          gjs -c "const {Mproc} = imports.gi; print(Mproc.toVariant({a: [1, 2]}).print(true))")
    expect "GJS override" "{'a': <[int64 1, 2]>}" "$got"
  else
    echo "skip: gjs is not installed"
  fi
fi

exit $fail
