"""One small function per verb: flags in, a lifecycle call, output as runc writes it.
Imports are inside the functions so that each verb pays only for what it uses; the
verbs every caller runs often are in hotcommands.py."""
import posix
import sys

from pyrunc import errors
from pyrunc.cli.hotcommands import _out


def version():
    """runc's layout: version, commit, spec, the toolchain (runc's `go:`), libseccomp."""
    from pyrunc import OCI_VERSION, __version__

    try:
        from pyrunc._build import COMMIT  # written by setup.py in a git checkout
    except ImportError:
        COMMIT = "unknown"
    py = "%d.%d.%d" % sys.version_info[:3]
    lines = ["pyrunc version " + __version__, "commit: " + COMMIT, "spec: " + OCI_VERSION, "python: " + py]
    try:
        from pyrunc import seccomp

        lines.append("libseccomp: " + seccomp.libseccomp_version())
    except (OSError, AttributeError, ImportError):   # no libseccomp: runc built without it prints no line
        pass
    _out("\n".join(lines) + "\n")
    return 0


def help_for(verb):
    from pyrunc.cli import verbs

    if verb == "checkpoint":
        # podman treats `checkpoint --help` exiting 0 as "checkpoint supported": it is
        # only where CRIU works on this host
        from pyrunc.lifecycle import criu

        why = criu.check()
        if why:
            raise errors.PyruncError("checkpoint is not supported on this host: " + why)
    _out(verbs.verb_help(verb))
    return 0


def _container(g, cid):
    from pyrunc import api

    return api.Container(api.Runtime._of(g), cid)


def cmd_create(g, o, pos):
    from pyrunc.lifecycle import create

    # as pyrunc.api's Runtime.create, without importing the API's classes
    create.create(g, pos[0], o["bundle"], pid_file=o["pid-file"], console_socket=o["console-socket"],
                  no_pivot=o["no-pivot"], no_new_keyring=o["no-new-keyring"], preserve_fds=o["preserve-fds"])
    return 0


def cmd_run(g, o, pos):
    from pyrunc.lifecycle import run

    return run.run(g, pos[0], o)


def cmd_spec(g, o, pos):
    from pyrunc.spec import default

    bundle = o["bundle"] or "."
    path = bundle.rstrip("/") + "/config.json"
    try:
        posix.stat(path)
        raise errors.PyruncError("File config.json exists. Remove it first")
    except FileNotFoundError:
        pass
    text = default.render(rootless=o["rootless"], cgroupns=default.unified_host())
    try:
        fd = posix.open(path, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_CLOEXEC, 0o666)
    except OSError as e:
        raise errors.from_oserror("open " + path, e) from None
    try:
        posix.write(fd, text.encode())
    finally:
        posix.close(fd)
    return 0


def cmd_validate(g, o, pos):
    from pyrunc.spec import validate

    problems = validate.validate_bundle(o["bundle"] or ".")
    for line in problems:
        _out(line + "\n")
    if problems:
        raise errors.PyruncError("config.json: %d problem%s found" % (len(problems), "s" * (len(problems) != 1)))
    _out("config.json: valid\n")
    return 0


def _not_yet(verb):
    raise errors.PyruncError("%s is not implemented yet in pyrunc" % verb)


def cmd_exec(g, o, pos):
    from pyrunc.lifecycle import exec as execmod

    try:
        return execmod.exec_(g, pos[0], o, pos[1:])
    except errors.UsageError:
        raise
    except errors.PyruncError as e:
        # runc: every failure of exec is "exec failed: ...", exit status 255
        e.wrap("exec failed")
        e.exit_code = 255
        raise


def cmd_pause(g, o, pos):
    _container(g, pos[0]).pause()
    return 0


def cmd_resume(g, o, pos):
    _container(g, pos[0]).resume()
    return 0


def cmd_update(g, o, pos):
    _container(g, pos[0]).update(flags=o)
    return 0


def cmd_ps(g, o, pos):
    from pyrunc.lifecycle import ps

    ps.ps(g.root, pos[0], o["format"], pos[1:])
    return 0


def cmd_events(g, o, pos):
    from pyrunc import jsonio

    for ev in _container(g, pos[0]).events(stats=o["stats"], interval=o["interval"]):
        _out(jsonio.dumps(ev) + "\n")
        sys.stdout.flush()
    return 0


def cmd_features(g, o, pos):
    from pyrunc import features

    _out(features.render())
    return 0


def cmd_image(g, o, pos):
    from pyrunc.image import cli

    return cli.main(g, pos)


def cmd_checkpoint(g, o, pos):
    from pyrunc.lifecycle import checkpoint

    checkpoint.checkpoint(g, pos[0], o)
    return 0


def cmd_restore(g, o, pos):
    from pyrunc.lifecycle import restore

    return restore.restore(g, pos[0], o)
