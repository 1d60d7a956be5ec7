"""Container state under --root: `<root>/<id>/state` (store.py) and `exec.fifo`.

Status is derived at every read (store.status), never trusted from the file.
"""
