"""CLI parsing: every flag form runc accepts (Go's flag package + urfave/cli)."""
import pytest

from pyrunc.cli import args, verbs
from pyrunc.errors import UsageError

CREATE = verbs.VERBS["create"][2]
RUN = verbs.VERBS["run"][2]


@pytest.mark.parametrize("argv", [
    ["--bundle", "/b", "c1"],
    ["--bundle=/b", "c1"],
    ["-bundle", "/b", "c1"],
    ["-bundle=/b", "c1"],
    ["-b", "/b", "c1"],
    ["--b", "/b", "c1"],
    ["-b=/b", "c1"],
    ["c1", "--bundle", "/b"],
])
def test_string_flag_forms(argv):
    o, pos = args.parse(argv, CREATE, "create")
    assert o["bundle"] == "/b"
    assert pos == ["c1"]


@pytest.mark.parametrize("argv,expected", [
    (["-d", "c"], True), (["--detach", "c"], True), (["-detach", "c"], True),
    (["--detach=true", "c"], True), (["--detach=false", "c"], False), (["c"], False),
    (["-d=1", "c"], True), (["--detach=F", "c"], False),
])
def test_bool_flag_forms(argv, expected):
    o, pos = args.parse(argv, RUN, "run")
    assert o["detach"] is expected and pos == ["c"]


def test_int_flag():
    o, _ = args.parse(["--preserve-fds", "2", "c"], CREATE, "create")
    assert o["preserve-fds"] == 2
    with pytest.raises(UsageError, match='invalid value "x" for flag -preserve-fds'):
        args.parse(["--preserve-fds=x", "c"], CREATE, "create")


def test_unknown_flag_has_go_wording():
    with pytest.raises(UsageError, match="flag provided but not defined: -nope"):
        args.parse(["--nope", "c"], CREATE, "create")


def test_missing_value_has_go_wording():
    # podman's restore probe greps for this text
    with pytest.raises(UsageError, match="flag needs an argument: -lsm-mount-context"):
        args.parse(["--lsm-mount-context"], verbs.VERBS["restore"][2], "restore")


def test_double_dash_ends_flags():
    o, pos = args.parse(["--", "-b"], CREATE, "create")
    assert pos == ["-b"] and o["bundle"] == ""


def test_exec_stops_at_first_positional():
    o, pos = args.parse(["-t", "c1", "sh", "-c", "echo -b"], verbs.VERBS["exec"][2], "exec", interspersed=False)
    assert o["tty"] is True
    assert pos == ["c1", "sh", "-c", "echo -b"]


def test_repeated_list_flag():
    o, pos = args.parse(["-e", "A=1", "--env=B=2", "c1", "true"], verbs.VERBS["exec"][2], "exec",
                        interspersed=False)
    assert o["env"] == ["A=1", "B=2"]


def test_globals_stop_at_the_verb():
    o, rest = args.parse(["--root", "/r", "--log-format=json", "-log", "/l", "kill", "-a", "c", "9"],
                         verbs.GLOBAL_FLAGS, None, interspersed=False)
    assert o["root"] == "/r" and o["log-format"] == "json" and o["log"] == "/l"
    assert rest == ["kill", "-a", "c", "9"]


def test_repeated_bool_is_idempotent():
    # podman may pass --leave-running twice
    o, _ = args.parse(["--leave-running", "--leave-running", "c"], verbs.VERBS["checkpoint"][2], "checkpoint")
    assert o["leave-running"] is True
