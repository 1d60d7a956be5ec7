"""The global flags and the verbs every caller runs often (state, start, kill, delete,
list): parsing their argv needs this table alone, not verbs.py's flags of every verb
(a tenth of a millisecond to build). Same layout as verbs.VERBS, which includes these."""
from pyrunc.cli.args import BOOL, STR, Flag

ID = '<container-id>'
ID_NAME = 'Where "<container-id>" is the name for the instance of the container.'

# name: (summary, usage args, flags, (min args, max args or None), description)
HOT = {
    "delete": ("delete any resources held by the container often used with detached container",
               ID, [Flag("force", BOOL, ("f",), False,
                         "Forcibly deletes the container if it is still running (uses SIGKILL)")], (1, 1),
               ID_NAME),
    "kill": ("kill sends the specified signal (default: SIGTERM) to the container's init process",
             ID + " [signal]", [Flag("all", BOOL, ("a",), False,
                                     "send the specified signal to all processes inside the container")],
             (1, 2), ID_NAME + ' "[signal]" is the signal to be sent to the init process.'),
    "list": ("lists containers started by pyrunc with the given root", "",
             [Flag("format", STR, ("f",), "table", "select one of: table or json (default: \"table\")"),
              Flag("quiet", BOOL, ("q",), False, "display only container IDs")], (0, 0), ""),
    "start": ("executes the user defined process in a created container", ID, [], (1, 1), ID_NAME),
    "state": ("output the state of a container", ID, [], (1, 1), ID_NAME),
}

GLOBAL_FLAGS = [
    Flag("debug", BOOL, (), False, "enable debug logging"),
    Flag("log", STR, (), "", "set the log file to write pyrunc logs to (default is '/dev/stderr')"),
    Flag("log-format", STR, (), "text", "set the log format ('text' (default), or 'json')"),
    Flag("root", STR, (), "", "root directory for storage of container state (this should be "
         "located in tmpfs)"),
    Flag("criu", STR, (), "", "(obsoleted; accepted and ignored)", hidden=True),
    Flag("systemd-cgroup", BOOL, (), False, "enable systemd cgroup support, expects cgroupsPath to be of "
         "form \"slice:prefix:name\" for e.g. \"system.slice:runc:434234\""),
    Flag("rootless", STR, (), "auto", "ignore cgroup permission errors ('true', 'false', or 'auto')"),
    Flag("help", BOOL, ("h",), False, "show help"),
    Flag("version", BOOL, ("v",), False, "print the version"),
]
