"""Helpers of the engine tests (integration/test_podman.py, test_containerd.py, test_cri.py).

common.py     packages, the busybox image, the runtime wrapper (rtlog.sh), a pty, and
              what the engines leave behind (processes, mounts, cgroups)
podman.py     a podman with private storage, cgroupfs and file events (no systemd here)
containerd.py a containerd daemon of our own: private root, state, socket, no CRI
cri.py        that daemon with the CRI plugin (handlers runc and pyrunc, CNI in a netns of
              our own, a local pause image) and a runtime.v1 client (grpcio, ../cri/api.proto)
rtlog.sh      the logging wrapper put in front of runc and pyrunc
"""
