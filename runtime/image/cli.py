"""`pyrunc image SUBCOMMAND [flags] args`: each subcommand parses its own flags with
pyrunc.cli.args (Go's flag forms, flags also after the arguments)."""
import sys

from pyrunc import errors, log
from pyrunc.cli.args import BOOL, STR, Flag

STORE = Flag("store", STR, (), "", "layer store directory (default: /var/lib/pyrunc/store)")

# name: (summary, usage, flags, (min, max) positional arguments)
SUBCOMMANDS = {
    "unpack": ("unpack an image into a bundle: layers extracted once into the store, rootfs an overlay mount "
               "of them with the bundle's own upper dir, config.json from the image config",
               "LAYOUT:TAG BUNDLE",
               [STORE, Flag("terminal", BOOL, (), True, "process.terminal of the generated config.json "
                            "(--terminal=false for none)")], (2, 2)),
    "commit": ("turn the bundle's upper dir (the container's changes) into a new layer and tag the new "
               "image in LAYOUT; the bundle's image is untouched",
               "BUNDLE LAYOUT:NEWTAG",
               [Flag("message", STR, ("m",), "", "comment of the new history entry"),
                Flag("author", STR, ("a",), "", "author of the new image and history entry"),
                Flag("pause", BOOL, (), False, "freeze the containers running from the bundle while its upper "
                     "dir is read (a consistent layer), thaw them afterwards")], (2, 2)),
    "release": ("unmount the bundle's rootfs; its upper dir is kept unless --purge",
                "BUNDLE",
                [Flag("purge", BOOL, (), False, "also remove the upper dir, volumes, config.json and the bundle's "
                      "claim on the store's layers")], (1, 1)),
    "mount": ("mount the rootfs of a released bundle again, with its upper dir as it was left", "BUNDLE", [],
              (1, 1)),
    "ls": ("list the tagged images of a layout", "LAYOUT",
           [Flag("format", STR, ("f",), "table", "select one of: table or json (default: \"table\")")], (1, 1)),
    "history": ("show the history of an image, newest first", "LAYOUT:TAG",
                [Flag("format", STR, ("f",), "table", "select one of: table or json (default: \"table\")")],
                (1, 1)),
    "gc": ("remove the store's layers that no unpacked bundle uses", "",
           [STORE], (0, 0)),
}


def main_help():
    lines = ["NAME:\n   pyrunc image - OCI images as overlayfs bundles, and commit of their changes\n\n"
             "USAGE:\n   pyrunc image SUBCOMMAND [options] [arguments...]\n\nSUBCOMMANDS:\n"]
    for name in ("unpack", "commit", "release", "mount", "ls", "history", "gc"):
        _, usage, flags, _ = SUBCOMMANDS[name]
        opts = "".join(" [--%s%s]" % (f.name, "" if f.kind == BOOL else " " + f.name.upper()) for f in flags)
        lines.append("   %s%s %s\n" % (name, opts, usage))
    lines.append("\n`pyrunc image SUBCOMMAND --help` describes each.\n")
    return "".join(lines)


def sub_help(name):
    from pyrunc.cli import verbs

    summary, usage, flags, _ = SUBCOMMANDS[name]
    text = "NAME:\n   pyrunc image %s - %s\n\nUSAGE:\n   pyrunc image %s [options] %s\n" % (name, summary, name, usage)
    if flags:
        text += "\nOPTIONS:\n" + verbs._flag_lines(flags) + "\n"
    return text


def _usage(name, msg):
    sys.stdout.write("Incorrect Usage.\n\n" + (sub_help(name) if name in SUBCOMMANDS else main_help()))
    return errors.UsageError(msg, None)


def main(g, argv):
    from pyrunc.cli import args

    if not argv or argv[0] in ("help", "h", "-h", "--help"):
        if len(argv) > 1 and argv[1] in SUBCOMMANDS:
            sys.stdout.write(sub_help(argv[1]))
        else:
            sys.stdout.write(main_help())
        return 0
    name = argv[0]
    spec = SUBCOMMANDS.get(name)
    if spec is None:
        raise _usage(None, 'pyrunc image: unknown subcommand "%s"' % name)
    flags = spec[2] + [Flag("help", BOOL, ("h",), False, "show help")]
    try:
        opts, pos = args.parse(argv[1:], flags, None, interspersed=True)
    except errors.UsageError as e:
        raise _usage(name, e.msg) from None
    if opts["help"]:
        sys.stdout.write(sub_help(name))
        return 0
    lo, hi = spec[3]
    if len(pos) < lo or len(pos) > hi:
        what = "exactly %d" % lo if lo == hi else "%d to %d" % (lo, hi)
        raise _usage(name, 'pyrunc image %s: requires %s argument(s)' % (name, what))
    return globals()["_" + name](g, opts, pos)


def _unpack(g, o, pos):
    from pyrunc.image import bundle

    n = bundle.unpack(pos[0], pos[1], o["store"] or None, terminal=o["terminal"])
    log.debugf("image unpack %s: %d layer(s) extracted" % (pos[0], n))
    return 0


def _commit(g, o, pos):
    from pyrunc.image import commit

    digest = commit.commit(g.root, pos[0], pos[1], message=o["message"], author=o["author"], pause=o["pause"])
    sys.stdout.write(digest + "\n")
    return 0


def _release(g, o, pos):
    from pyrunc.image import bundle

    bundle.release(pos[0], g.root, purge=o["purge"])
    return 0


def _mount(g, o, pos):
    from pyrunc.image import bundle

    bundle.mount_again(pos[0])
    return 0


def _ls(g, o, pos):
    from pyrunc.image import show

    sys.stdout.write(show.ls(pos[0], o["format"]))
    return 0


def _history(g, o, pos):
    from pyrunc.image import show

    sys.stdout.write(show.history(pos[0], o["format"]))
    return 0


def _gc(g, o, pos):
    from pyrunc.image import show, store

    st = store.Store(o["store"] or None, create=False)
    for diff_id, size in st.gc():
        sys.stdout.write("removed %s (%s)\n" % (diff_id, show.human(size)))
    return 0
