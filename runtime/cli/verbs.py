"""The verbs: their flags, argument counts and help text (runc's, with our name); the
ones every caller runs often are in hotverbs.py, which parsing their argv needs alone."""
from pyrunc.cli.args import BOOL, INT, LIST, STR, Flag
from pyrunc.cli.hotverbs import GLOBAL_FLAGS, HOT, ID, ID_NAME

CREATE_FLAGS = [
    Flag("bundle", STR, ("b",), "", "path to the root of the bundle directory, defaults to the current directory"),
    Flag("console-socket", STR, (), "", "path to an AF_UNIX socket which will receive a file descriptor "
         "referencing the master end of the console's pseudoterminal"),
    Flag("pid-file", STR, (), "", "specify the file to write the process id to"),
    Flag("no-pivot", BOOL, (), False, "do not use pivot root to jail process inside rootfs.  This should be "
         "used whenever the rootfs is on top of a ramdisk"),
    Flag("no-new-keyring", BOOL, (), False, "do not create a new session keyring for the container.  This will "
         "cause the container to inherit the calling processes session key"),
    Flag("preserve-fds", INT, (), 0, "Pass N additional file descriptors to the container (stdio + "
         "$LISTEN_FDS + N in total) (default: 0)"),
    Flag("pidfd-socket", STR, (), "", "path to an AF_UNIX socket which will receive a pidfd of the init process",
         hidden=True),
]
RUN_FLAGS = CREATE_FLAGS + [
    Flag("detach", BOOL, ("d",), False, "detach from the container's process"),
    Flag("keep", BOOL, (), False, "do not delete the container after it exits"),
    Flag("no-subreaper", BOOL, (), False, "disable the use of the subreaper used to reap reparented processes"),
]
EXEC_FLAGS = [
    Flag("console-socket", STR, (), "", "path to an AF_UNIX socket which will receive a file descriptor "
         "referencing the master end of the console's pseudoterminal"),
    Flag("cwd", STR, (), "", "current working directory in the container"),
    Flag("env", LIST, ("e",), None, "set environment variables"),
    Flag("tty", BOOL, ("t",), False, "allocate a pseudo-TTY"),
    Flag("user", STR, ("u",), "", "UID (format: <uid>[:<gid>])"),
    Flag("additional-gids", LIST, ("g",), None, "additional gids"),
    Flag("process", STR, ("p",), "", "path to the process.json"),
    Flag("detach", BOOL, ("d",), False, "detach from the container's process"),
    Flag("pid-file", STR, (), "", "specify the file to write the process id to"),
    Flag("process-label", STR, (), "", "set the asm process label for the process commonly used with selinux"),
    Flag("apparmor", STR, (), "", "set the apparmor profile for the process"),
    Flag("no-new-privs", BOOL, (), False, "set the no new privileges value for the process"),
    Flag("cap", LIST, ("c",), None, "add a capability to the bounding set for the process"),
    Flag("preserve-fds", INT, (), 0, "Pass N additional file descriptors to the container (stdio + "
         "$LISTEN_FDS + N in total) (default: 0)"),
    Flag("cgroup", LIST, (), None, "run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>."),
    Flag("ignore-paused", BOOL, (), False, "allow exec in a paused container"),
]
UPDATE_FLAGS = [Flag(n, STR, a, "", h) for n, a, h in (
    ("resources", ("r",), "path to the file containing the resources to update or '-' to read from the "
     "standard input"),
    ("blkio-weight", (), "Specifies per cgroup weight, range is from 10 to 1000"),
    ("cpu-period", (), "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"),
    ("cpu-quota", (), "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"),
    ("cpu-burst", (), "CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally "
     "for burst a given period"),
    ("cpu-share", (), "CPU shares (relative weight vs. other containers)"),
    ("cpu-rt-period", (), "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"),
    ("cpu-rt-runtime", (), "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"),
    ("cpuset-cpus", (), "CPU(s) to use"),
    ("cpuset-mems", (), "Memory node(s) to use"),
    ("cpu-idle", (), "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE"),
    ("memory", (), "Memory limit (in bytes)"),
    ("memory-reservation", (), "Memory reservation or soft_limit (in bytes)"),
    ("memory-swap", (), "Total memory usage (memory + swap); set '-1' to enable unlimited swap"),
    ("pids-limit", (), "Maximum number of pids allowed in the container"),
    ("l3-cache-schema", (), "The string of Intel RDT/CAT L3 cache schema"),
    ("mem-bw-schema", (), "The string of Intel RDT/MBA memory bandwidth schema"),
    ("kernel-memory", (), "(obsoleted; do not use)"),
    ("kernel-memory-tcp", (), "(obsoleted; do not use)"),
)]
# runc 1.1.5's checkpoint and restore flags, with its usage text
CHECKPOINT_FLAGS = [
    Flag("image-path", STR, (), "", "path for saving criu image files"),
    Flag("work-path", STR, (), "", "path for saving work files and logs"),
    Flag("parent-path", STR, (), "", "path for previous criu image files in pre-dump"),
    Flag("leave-running", BOOL, (), False, "leave the process running after checkpointing"),
    Flag("tcp-established", BOOL, (), False, "allow open tcp connections"),
    Flag("ext-unix-sk", BOOL, (), False, "allow external unix sockets"),
    Flag("shell-job", BOOL, (), False, "allow shell jobs"),
    Flag("lazy-pages", BOOL, (), False, "use userfaultfd to lazily restore memory pages"),
    Flag("status-fd", STR, (), "-1", "criu writes \\0 to this FD once lazy-pages is ready (default: -1)"),
    Flag("page-server", STR, (), "", "ADDRESS:PORT of the page server"),
    Flag("file-locks", BOOL, (), False, "handle file locks, for safety"),
    Flag("pre-dump", BOOL, (), False, "dump container's memory information only, leave the container running "
         "after this"),
    Flag("manage-cgroups-mode", STR, (), "", "cgroups mode: 'soft' (default), 'full', 'strict' and 'ignore'"),
    Flag("empty-ns", LIST, (), None, "create a namespace, but don't restore its properties"),
    Flag("auto-dedup", BOOL, (), False, "enable auto deduplication of memory images"),
    Flag("tcp-skip-in-flight", BOOL, (), False, "", hidden=True),
    Flag("link-remap", BOOL, (), False, "", hidden=True),
]
RESTORE_FLAGS = [
    Flag("console-socket", STR, (), "", "path to an AF_UNIX socket which will receive a file descriptor "
         "referencing the master end of the console's pseudoterminal"),
    Flag("image-path", STR, (), "", "path to criu image files for restoring"),
    Flag("work-path", STR, (), "", "path for saving work files and logs"),
    Flag("tcp-established", BOOL, (), False, "allow open tcp connections"),
    Flag("ext-unix-sk", BOOL, (), False, "allow external unix sockets"),
    Flag("shell-job", BOOL, (), False, "allow shell jobs"),
    Flag("file-locks", BOOL, (), False, "handle file locks, for safety"),
    Flag("manage-cgroups-mode", STR, (), "", "cgroups mode: 'soft' (default), 'full', 'strict' and 'ignore'"),
    Flag("bundle", STR, ("b",), "", "path to the root of the bundle directory"),
    Flag("detach", BOOL, ("d",), False, "detach from the container's process"),
    Flag("pid-file", STR, (), "", "specify the file to write the process id to"),
    Flag("no-subreaper", BOOL, (), False, "disable the use of the subreaper used to reap reparented processes"),
    Flag("no-pivot", BOOL, (), False, "do not use pivot root to jail process inside rootfs.  This should be "
         "used whenever the rootfs is on top of a ramdisk"),
    Flag("empty-ns", LIST, (), None, "create a namespace, but don't restore its properties"),
    Flag("auto-dedup", BOOL, (), False, "enable auto deduplication of memory images"),
    Flag("lazy-pages", BOOL, (), False, "use userfaultfd to lazily restore memory pages"),
    Flag("lsm-profile", STR, (), "", "Specify an LSM profile to be used during restore in the form of "
         "TYPE:NAME."),
    Flag("lsm-mount-context", STR, (), "", "Specify an LSM mount context to be used during restore."),
]

ID_HELP = ('Where "<container-id>" is your name for the instance of the container that you\n'
           'are starting. The name you provide for the container instance must be unique on\nyour host.')

# name: (summary, usage args, flags, (min args, max args or None), description)
VERBS = dict(HOT, **{
    "checkpoint": ("checkpoint a running container", ID, CHECKPOINT_FLAGS, (1, 1),
                   'Where "<container-id>" is the name for the instance of the container to be\ncheckpointed.'
                   "\n\nDESCRIPTION:\n   The checkpoint command saves the state of the container instance."),
    "create": ("create a container", ID, CREATE_FLAGS, (1, 1), ID_HELP + """

DESCRIPTION:
   The create command creates an instance of a container for a bundle. The bundle
is a directory with a specification file named "config.json" and a root
filesystem."""),
    "events": ("display container events such as OOM notifications, cpu, memory, and IO usage statistics",
               ID, [Flag("interval", STR, (), "5s", "set the stats collection interval"),
                    Flag("stats", BOOL, (), False, "display the container's stats then exit")], (1, 1), ID_NAME),
    "exec": ("execute new process inside the container", ID + " <command> [command options]  || -p process.json "
             + ID, EXEC_FLAGS, (1, None), ID_NAME),
    "features": ("show the enabled features", "", [], (0, 0), ""),
    "image": ("OCI images: unpack to an overlayfs bundle, commit its changes as a new layer",
              "SUBCOMMAND [arguments...]", [], (0, None),
              "SUBCOMMANDS:\n"
              "   unpack [--store DIR] [--terminal=false] LAYOUT:TAG BUNDLE\n"
              "   commit [--message M] [--author A] [--pause] BUNDLE LAYOUT:NEWTAG\n"
              "   release [--purge] BUNDLE\n   mount BUNDLE\n   ls [--format table|json] LAYOUT\n"
              "   history [--format table|json] LAYOUT:TAG\n   gc [--store DIR]\n\n"
              "   `pyrunc image SUBCOMMAND --help` describes each."),
    "pause": ("pause suspends all processes inside the container", ID, [], (1, 1), ID_NAME),
    "ps": ("ps displays the processes running inside a container", ID + " [ps options]",
           [Flag("format", STR, ("f",), "table", "select one of: table or json (default: \"table\")")],
           (1, None), ""),
    "restore": ("restore a container from a previous checkpoint", ID, RESTORE_FLAGS, (1, 1),
                'Where "<container-id>" is the name for the instance of the container to be\nrestored.'
                "\n\nDESCRIPTION:\n   Restores the saved state of the container instance that was previously "
                "saved\nusing the runc checkpoint command."),
    "resume": ("resumes all processes that have been previously paused", ID, [], (1, 1), ID_NAME),
    "run": ("create and run a container", ID, RUN_FLAGS, (1, 1), ID_HELP),
    "spec": ("create a new specification file", "", [
        Flag("bundle", STR, ("b",), "", "path to the root of the bundle directory"),
        Flag("rootless", BOOL, (), False, "generate a configuration for a rootless container")], (0, 0),
        'The spec command creates the new specification file named "config.json" for\nthe bundle.'),
    "update": ("update container resource constraints", ID, UPDATE_FLAGS, (1, 1), ""),
    "validate": ("check a bundle's config.json against the runtime-spec and list every problem", "",
                 [Flag("bundle", STR, ("b",), "", "path to the root of the bundle directory")], (0, 0), ""),
})


def _flag_lines(flags):
    lines = []
    for f in flags:
        if f.hidden:
            continue
        names = ["--" + f.name] + ["-" + a if len(a) == 1 else "--" + a for a in f.aliases]
        if f.kind not in (BOOL,):
            names = [n + " " + f.placeholder for n in names]
        lines.append((", ".join(names), f.help))
    width = max((len(a) for a, _ in lines), default=0)
    return "\n".join("   %-*s  %s" % (width, a, b) for a, b in lines)


def verb_help(verb):
    summary, usage, flags, _, desc = VERBS[verb]
    text = "NAME:\n   pyrunc %s - %s\n\nUSAGE:\n   pyrunc %s [command options] %s\n" % (verb, summary, verb, usage)
    if desc:
        text += "\n" + desc + "\n"
    if flags:
        text += "\nOPTIONS:\n" + _flag_lines(flags) + "\n"
    return text


def main_help():
    from pyrunc import OCI_VERSION, __version__

    cmds = "\n".join("   %-11s %s" % (v, VERBS[v][0]) for v in sorted(VERBS))
    return ("NAME:\n   pyrunc - Open Container Initiative runtime (runc-compatible, in Python)\n\n"
            "USAGE:\n   pyrunc [global options] command [command options] [arguments...]\n\n"
            "VERSION:\n   %s\nspec: %s\n\nCOMMANDS:\n%s\n   help, h     Shows a list of commands or help for one "
            "command\n\nGLOBAL OPTIONS:\n%s\n" % (__version__, OCI_VERSION, cmds, _flag_lines(GLOBAL_FLAGS)))
