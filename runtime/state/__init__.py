"""Container state under --root: `<root>/<id>/state.json` and `exec.fifo`.

Status is derived at every read (store.status), never trusted from the file.
"""
