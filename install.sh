#!/bin/sh
# Install pyrunc and everything it and its tests need on Debian 12, as root:
#   ./install.sh          packages, /opt/pyrunc venv, /usr/local/bin/pyrunc
#   ./install.sh --demo   the same, then run a real container from a busybox bundle
set -eu
cd "$(dirname "$0")"
PREFIX=${PYRUNC_PREFIX:-/opt/pyrunc}
PACKAGES="gcc libc6-dev python3-dev python3-venv libseccomp-dev libcap-dev busybox-static runc crun zstd uidmap criu"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq $missing >/dev/null
fi

# Debian's interpreter by absolute path: the first python3 on PATH may be a slow wrapper
[ -x "$PREFIX/bin/python3" ] || /usr/bin/python3 -m venv "$PREFIX"
"$PREFIX/bin/pip" install -q --disable-pip-version-check ".[test]"
ln -sf "$PREFIX/bin/pyrunc" /usr/local/bin/pyrunc

if [ "${1:-}" = "--demo" ]; then
    ./demo.sh
fi
