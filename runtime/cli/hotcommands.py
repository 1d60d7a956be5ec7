"""The handlers of the verbs every caller runs often (start, state, list, kill,
delete): these verbs import this module, not commands.py with every other verb's."""
import sys

from pyrunc import errors, phase


def _out(text):
    sys.stdout.write(text)


def cmd_start(g, o, pos):
    from pyrunc.lifecycle import start

    start.start(g.root, pos[0])
    return 0


def cmd_state(g, o, pos):
    from pyrunc import jsonio
    from pyrunc.state import store

    # the hot verbs call lifecycle and the store as pyrunc.api does, without importing it
    st = store.public_state_of(g.root, pos[0])
    phase("state")
    _out(jsonio.dumps_indent(st))
    return 0


def cmd_list(g, o, pos):
    fmt = o["format"]
    if fmt not in ("table", "json"):
        raise errors.PyruncError("invalid format option")
    from pyrunc.state import store

    rows = store.list_public(g.root)
    phase("states")
    if o["quiet"]:
        _out("".join(r["id"] + "\n" for r in rows))
        return 0
    if fmt == "json":
        from pyrunc import jsonio

        _out((jsonio.dumps(rows) if rows else "null") + "\n")
        return 0
    table = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    for r in rows:
        table.append((r["id"], str(r["pid"]), r["status"], r["bundle"], r["created"], r["owner"]))
    # Go's tabwriter(minwidth 12, padding 3): every column but the last is padded
    widths = [max(12, max(len(row[i]) for row in table) + 3) for i in range(5)]
    _out("".join("".join(row[i].ljust(widths[i]) for i in range(5)) + row[5] + "\n" for row in table))
    return 0


def cmd_kill(g, o, pos):
    from pyrunc import signals

    sig = signals.parse(pos[1]) if len(pos) > 1 else 15
    from pyrunc.lifecycle import kill

    kill.kill(g.root, pos[0], sig, o["all"])
    phase("kill")
    return 0


def cmd_delete(g, o, pos):
    from pyrunc.lifecycle import delete

    delete.delete(g.root, pos[0], o["force"])
    return 0
