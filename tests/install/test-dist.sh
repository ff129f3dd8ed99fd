#!/bin/bash
# `meson dist` makes a tarball of the committed tree (what a release is),
# and the tarball builds: unpacked apart from any git checkout, configured
# lean (library, translations, no introspection, tests or examples) and
# built, then installed to a staging directory.
#
# Skipped (77) outside a git checkout, where `meson dist` cannot work, or
# with MPROC_SKIP_DIST=1.
#
# test-dist.sh SOURCE-DIR BUILD-DIR WORK-DIR
set -euo pipefail

src=$1
build=$2
work=$3

if [ "${MPROC_SKIP_DIST:-0}" = 1 ]; then
  echo "skipped: MPROC_SKIP_DIST=1"; exit 77
fi
if ! git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "skipped: $src is not a git checkout"; exit 77
fi
if [ -n "$(git -C "$src" status --porcelain --untracked-files=no)" ]; then
  echo "note: uncommitted changes are not in the tarball (it is made from HEAD)"
fi

rm -rf "$work"
mkdir -p "$work"
meson dist -C "$build" --no-tests --allow-dirty --formats xztar
version=$(meson introspect --projectinfo "$build" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
tarball=$build/meson-dist/mproc-glib-$version.tar.xz
[ -f "$tarball" ] || { echo "FAIL: no $tarball"; exit 1; }

tar -C "$work" -xf "$tarball"
tree=$work/mproc-glib-$version
fail=0
for f in meson.build meson_options.txt README.md po/POTFILES.in po/LINGUAS \
         po/ja.po po/mproc-glib.pot docs/reference/Mproc.toml.in \
         mproc-glib/mproc.h tests/install/test-install.sh; do
  [ -e "$tree/$f" ] || { echo "FAIL: $f is missing from the tarball"; fail=1; }
done
for d in _build _build-asan _build-release .git; do
  [ ! -e "$tree/$d" ] || { echo "FAIL: $d is in the tarball"; fail=1; }
done

meson setup "$work/build" "$tree" --prefix=/usr \
  -Dintrospection=disabled -Dtests=false -Dexamples=false \
  -Dbenchmarks=false -Ddocumentation=false >/dev/null
ninja -C "$work/build" >/dev/null
DESTDIR=$work/stage meson install -C "$work/build" --no-rebuild --quiet
for f in usr/include/mproc-glib-1/mproc.h usr/share/locale/ja/LC_MESSAGES/mproc-glib.mo; do
  [ -e "$work/stage/$f" ] || { echo "FAIL: the tarball's build does not install $f"; fail=1; }
done
[ -n "$(find "$work/stage/usr" -name libmproc-glib-1.so.0)" ] ||
  { echo "FAIL: the tarball's build does not install the library"; fail=1; }

[ $fail = 0 ] && echo "ok: $(basename "$tarball") builds and installs"
rm -rf "$work"
exit $fail
