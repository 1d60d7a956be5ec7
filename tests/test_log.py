"""Log lines in runc's (logrus) shapes."""
import json
import re

from pyrunc import log


def test_text_line(monkeypatch):
    monkeypatch.setattr(log, "fmt", "text")
    line = log.format_line("error", 'container "c1" does not exist')
    assert re.fullmatch(r'time="[0-9T:\-]+(Z|[+-]\d\d:\d\d)" level=error msg="container \\"c1\\" does not exist"\n',
                        line)
    assert log.format_line("info", "done").endswith("level=info msg=done\n")


def test_json_line(monkeypatch):
    monkeypatch.setattr(log, "fmt", "json")
    line = log.format_line("error", "a <b>")
    assert list(json.loads(line)) == ["level", "msg", "time"]
    assert json.loads(line)["msg"] == "a <b>"
    assert "\\u003cb\\u003e" in line


def test_error_goes_to_file_and_plain_stderr(tmp_path, monkeypatch, capfd):
    path = tmp_path / "log.json"
    monkeypatch.setattr(log, "target", str(path))
    monkeypatch.setattr(log, "fmt", "json")
    log.error("container does not exist")
    log.error("second")
    lines = path.read_text().splitlines()
    assert [json.loads(x)["msg"] for x in lines] == ["container does not exist", "second"]
    assert capfd.readouterr().err == "container does not exist\nsecond\n"


def test_rfc3339nano():
    assert log.rfc3339nano_utc(1_700_000_000_123_400_000) == "2023-11-14T22:13:20.1234Z"
    assert log.rfc3339nano_utc(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"


def test_error_with_a_newline_stays_one_line(tmp_path, monkeypatch, capfd):
    """A config value with a newline in the message: one line in the log file and on
    stderr (callers read the last line of stderr as the error)."""
    path = tmp_path / "log.json"
    monkeypatch.setattr(log, "target", str(path))
    monkeypatch.setattr(log, "fmt", "json")
    log.error('mount data "m\nx=1\r": invalid argument')
    lines = path.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["msg"] == 'mount data "m\nx=1\r": invalid argument'
    assert capfd.readouterr().err == 'mount data "m\\nx=1\\r": invalid argument\n'
