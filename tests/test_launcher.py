"""The launcher (bin/pyrunc.in, rendered by bin/launcher.py): its #! line execs the
compiled code on its last line, so that no command compiles or twice reads the file;
run by hand through the interpreter, or when that code is of another Python, the
file's own text does the same work. No root, no container."""
import importlib.util
import marshal
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
LAUNCHER = os.environ.get("PYRUNC", "/opt/pyrunc/bin/pyrunc")


def launcher_module():
    spec = importlib.util.spec_from_file_location("_pyrunc_launcher", os.path.join(REPO, "bin", "launcher.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def template():
    with open(os.path.join(REPO, "bin", "pyrunc.in")) as f:
        return f.read()


def installed():
    assert os.path.isfile(LAUNCHER), f"pyrunc is not installed at {LAUNCHER} (./install.sh)"
    with open(LAUNCHER) as f:
        return f.read()


def interpreter_of(text):
    return text[2:text.index("\n")].split()[0]


def test_the_line_execs_the_embedded_code_of_the_text():
    lm = launcher_module()
    text = lm.render(template(), "/usr/bin/python3.11")
    first = text[:text.index("\n")]
    assert first == "#!/usr/bin/python3.11 -ISc" + lm.EXEC_CODE
    assert len(first.encode()) <= 255
    tag, code = lm.embedded(text)
    assert tag == lm.tag()
    assert code == compile(text, "pyrunc-launcher", "exec", dont_inherit=True)
    compile(lm.EXEC_CODE, "-c", "exec")   # the #! line's code is valid Python on its own


def test_a_long_interpreter_path_keeps_the_plain_line():
    lm = launcher_module()
    interp = "/opt/" + "x" * 240 + "/bin/python3.11"
    text = lm.render(template(), interp)
    assert text[:text.index("\n")] == "#!%s -IS" % interp
    assert lm.embedded(text)[0] == lm.tag()


def test_the_installed_launcher_is_this_checkouts():
    text = installed()
    assert text == launcher_module().render(template(), interpreter_of(text)), \
        f"{LAUNCHER} is not bin/pyrunc.in rendered by bin/launcher.py: ./install.sh"


@pytest.fixture
def prefix(tmp_path):
    """A prefix whose lib/ is the install's: a copy of the launcher there finds the
    package as the installed one does."""
    real = os.path.dirname(os.path.dirname(os.path.realpath(LAUNCHER)))
    (tmp_path / "bin").mkdir()
    (tmp_path / "lib").symlink_to(os.path.join(real, "lib"))
    return tmp_path


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("how", ["#!", "#! through a symlink", "interpreter", "code of another python"])
def test_every_way_in_runs_pyrunc(prefix, tmp_path, how):
    text = installed()
    if how == "code of another python":
        head, _, blob = text.rpartition("\n#")
        lm = launcher_module()
        tag, code = lm.embedded(text)
        import binascii

        text = head + "\n#" + binascii.b2a_base64(b"2.7." + marshal.dumps(code), newline=False).decode() + "\n"
    launcher = prefix / "bin" / "pyrunc"
    launcher.write_text(text)
    launcher.chmod(0o755)
    if how == "interpreter":
        argv = [interpreter_of(text), "-I", "-S", str(launcher)]
    elif how == "#! through a symlink":
        link = tmp_path / "elsewhere"
        link.mkdir()
        (link / "pyrunc").symlink_to(launcher)
        argv = [str(link / "pyrunc")]
    else:
        argv = [str(launcher)]
    r = run(argv + ["--root", str(tmp_path / "root"), "list"])
    assert r.returncode == 0 and r.stdout.split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], r
    r = run(argv + ["--root", str(tmp_path / "root"), "state", "nothere"])
    assert r.returncode == 1 and "container does not exist" in r.stderr, r
