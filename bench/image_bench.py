#!/usr/bin/env python3
"""Time `pyrunc image` next to umoci on the same image, as ratios (pyrunc / umoci).

  unpack, cached store   pyrunc image unpack (layers already in the store: an overlay
                         mount and a config) vs umoci unpack (extracts every time)
  unpack, cold store     the first pyrunc unpack (extraction into the store) vs umoci unpack
  commit, small change   pyrunc image commit of a bundle with one changed file vs umoci
                         repack of a bundle with the same change

The image: Debian's static busybox with its applets, plus --files small files spread over
dirs (an image of a realistic file count), made with umoci in two layers. Run as root:

    python3 bench/image_bench.py [--runs 10] [--files 2000] [--pyrunc /opt/pyrunc/bin/pyrunc]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def sh(*argv, **kw):
    return subprocess.run([str(a) for a in argv], check=True, capture_output=True, text=True, **kw)


def timed(*argv):
    t = time.perf_counter()
    sh(*argv)
    return time.perf_counter() - t


def make_image(work, files):
    lay = os.path.join(work, "layout")
    b = os.path.join(work, "mk")
    sh("umoci", "init", "--layout", lay)
    sh("umoci", "new", "--image", lay + ":base")
    sh("umoci", "unpack", "--image", lay + ":base", b)
    root = os.path.join(b, "rootfs")
    for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "root"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
    for applet in sh("/bin/busybox", "--list").stdout.split():
        if applet != "busybox" and "/" not in applet:
            os.symlink("busybox", os.path.join(root, "bin", applet))
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    for i in range(files):
        d = os.path.join(root, "usr", "share", "bench", "d%03d" % (i // 50))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%05d" % i), "wb") as f:
            f.write(os.urandom(2048) + b"x" * 2048)
    sh("umoci", "repack", "--image", lay + ":base", b)
    shutil.rmtree(b)
    sh("umoci", "unpack", "--image", lay + ":base", b)
    with open(os.path.join(b, "rootfs", "etc", "motd"), "w") as f:
        f.write("second layer\n")
    sh("umoci", "repack", "--image", lay + ":base", b)
    shutil.rmtree(b)
    return lay


def median_ms(xs):
    return statistics.median(xs) * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--pyrunc", default=os.environ.get("PYRUNC", "/opt/pyrunc/bin/pyrunc"))
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("image_bench: run as root (overlay mounts)")
    for tool in ("umoci",):
        if shutil.which(tool) is None:
            sys.exit("image_bench: needs %s (apt-get install umoci)" % tool)
    work = tempfile.mkdtemp(prefix="pyrunc-image-bench-")
    mounted = []
    try:
        lay = make_image(work, a.files)
        store = os.path.join(work, "store")
        py = a.pyrunc

        def unpack(bundle):
            t = timed(py, "image", "unpack", "--store", store, lay + ":base", bundle)
            mounted.append(bundle)
            return t

        def release(bundle):
            sh(py, "image", "release", "--purge", bundle)
            mounted.remove(bundle)

        cold_py, cold_um, warm_py, warm_um, commit_py, commit_um = [], [], [], [], [], []
        for i in range(a.runs):
            # cold: an empty store each time
            shutil.rmtree(store, ignore_errors=True)
            b = os.path.join(work, "cold%d" % i)
            cold_py.append(unpack(b))
            release(b)
            u = os.path.join(work, "u%d" % i)
            t = timed("umoci", "unpack", "--image", lay + ":base", u)
            cold_um.append(t)
            warm_um.append(t)      # umoci has no cache: every unpack is this one
            # warm: the layers are in the store now
            b = os.path.join(work, "warm%d" % i)
            unpack(b)
            release(b)
            b = os.path.join(work, "warm%d" % i)
            warm_py.append(unpack(b))
            # commit of one changed file, and umoci repack of the same change
            with open(os.path.join(b, "rootfs", "etc", "motd"), "w") as f:
                f.write("changed %d\n" % i)
            commit_py.append(timed(py, "image", "commit", b, "%s:py%d" % (lay, i)))
            release(b)
            with open(os.path.join(u, "rootfs", "etc", "motd"), "w") as f:
                f.write("changed %d\n" % i)
            commit_um.append(timed("umoci", "repack", "--image", "%s:um%d" % (lay, i), u))
            shutil.rmtree(u)
        print("image: busybox + %d files in 2 layers; %d runs; medians" % (a.files, a.runs))
        for name, p, u, what in (("unpack, cached store", warm_py, warm_um, "umoci unpack"),
                                 ("unpack, cold store", cold_py, cold_um, "umoci unpack"),
                                 ("commit, small change", commit_py, commit_um, "umoci repack")):
            print("%-22s pyrunc %8.1f ms   %-12s %8.1f ms   ratio %.2f"
                  % (name, median_ms(p), what, median_ms(u), median_ms(p) / median_ms(u)))
    finally:
        for b in list(mounted):
            subprocess.run([a.pyrunc, "image", "release", "--purge", b], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
