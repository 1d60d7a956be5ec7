#!/bin/sh
# A real container from a busybox-static bundle that says where it runs: its hostname,
# its pid and its mounts.  `./install.sh --demo` runs this after installing; the test
# suite runs it too (integration/test_smoke.py).
set -eu
PYRUNC=${PYRUNC:-pyrunc}
demo=$(mktemp -d /tmp/pyrunc-demo.XXXXXX)
trap 'rm -rf "$demo"' EXIT
mkdir -p "$demo/rootfs/bin" "$demo/rootfs/proc" "$demo/rootfs/sys" "$demo/rootfs/dev" "$demo/rootfs/etc"
cp /bin/busybox "$demo/rootfs/bin/busybox"
for app in sh hostname mount cat echo ps; do ln -s busybox "$demo/rootfs/bin/$app"; done
cd "$demo"
"$PYRUNC" spec
# no terminal, and a command that shows where it runs
sed -i -e 's/"terminal": true/"terminal": false/' \
    -e 's|"sh"$|"sh", "-c", "echo hostname: $(hostname); echo pid: $$; echo mounts:; cat /proc/self/mounts"|' \
    config.json
"$PYRUNC" run "demo-$$"
