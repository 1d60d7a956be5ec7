"""Helpers of the engine tests (integration/test_podman.py, integration/test_containerd.py).

common.py     packages, the busybox image, the runtime wrapper (rtlog.sh), a pty, and
              what the engines leave behind (processes, mounts, cgroups)
podman.py     a podman with private storage, cgroupfs and file events (no systemd here)
containerd.py a containerd daemon of our own: private root, state, socket, no CRI
rtlog.sh      the logging wrapper put in front of runc and pyrunc
"""
