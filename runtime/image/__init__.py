"""`pyrunc image ...`: OCI image layouts, a content-addressed layer store, overlayfs
bundles and commit of a bundle's read-write layer as a new image layer.

  layout.py   OCI image layout: references, index.json, blobs by digest, media types,
              atomic writes (temp file + rename)
  store.py    the layer store: one directory per diff_id, extracted once, never partly
              present; bundle registrations, locking, gc
  layer.py    tar layer -> overlayfs directory (whiteouts as 0:0 char devices and the
              opaque xattr, path checks, openat-style); upper dir -> tar layer
  convert.py  image config -> runtime config.json (image-spec conversion rules)
  mount.py    overlay mount and unmount
  ops.py      the subcommands: unpack, mount, release, commit, ls, history, gc
  cli.py      argument parsing of the subcommands
"""
