#!/bin/bash
# Installs what mproc-glib needs to build and test on Debian 12, as root.
# Idempotent, and quiet when everything is already there.
#   --bench  also what bench/run's peer column needs: pyzmq, joblib (whose
#            bundled loky is the peer; Debian has no python3-loky), libzmq
set -euo pipefail

packages=(
  gcc pkg-config meson ninja-build
  libglib2.0-dev libglib2.0-bin gettext
  gobject-introspection libgirepository1.0-dev gir1.2-glib-2.0
  python3-gi
  gjs
  dbus-daemon dbus-bin
)
# docs and install (#8): the reference, meson dist and its unpacking
packages+=(gi-docgen git xz-utils)
# the Redis backend: the server for tests and redis-benchmark, the RESP parser, TLS for GIO
packages+=(redis-server redis-tools libhiredis-dev glib-networking)
# bench/run's peers (opt-in)
if [ "${1:-}" = --bench ]; then
  packages+=(python3-zmq python3-joblib libzmq3-dev)
  # the redis_pool_* rows' anchors: RQ and Celery on the same redis-server
  packages+=(python3-rq python3-celery)
fi
# the GTK 4 example and its test under Xvfb; systemd-analyze for the unit
packages+=(libgtk-4-dev gir1.2-gtk-4.0 xvfb xauth systemd)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
