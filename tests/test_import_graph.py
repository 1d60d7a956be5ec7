"""No two pyrunc modules import each other (at the top or inside a function): a circle
makes the import order matter and hides which module owns what.

The one left is a factory: cgroups.manager picks the systemd driver, whose manager
subclasses the cgroupfs one (cgroups.systemd is imported only for --systemd-cgroup).
"""
import ast
import os

import pyrunc

ALLOWED = {("pyrunc.cgroups.manager", "pyrunc.cgroups.systemd")}


def graph():
    root = pyrunc.__path__[0]
    paths = {}
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(d, f), root)[:-3].replace(os.sep, ".")
                rel = rel[:-len("__init__")].rstrip(".") if rel.endswith("__init__") else rel
                paths["pyrunc" + ("." + rel if rel else "")] = os.path.join(d, f)
    out = {}
    for name, path in paths.items():
        with open(path) as f:
            tree = ast.parse(f.read())
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("pyrunc"):
                for a in node.names:
                    full = node.module + "." + a.name
                    deps.add(full if full in paths else node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("pyrunc"))
        out[name] = {d for d in deps if d in paths and d != name}
    return out


def test_the_graph_is_read():
    g = graph()
    assert "pyrunc.cgroups.fs" in g["pyrunc.cgroups.resources"]
    assert "pyrunc.image.store" in g["pyrunc.image.bundle"]


def test_no_two_modules_import_each_other():
    g = graph()
    circles = sorted((a, b) for a in g for b in g[a] if a < b and a in g.get(b, ()))
    assert set(circles) <= ALLOWED, "modules importing each other: %s" % [c for c in circles if c not in ALLOWED]
