"""The launcher that setup.py installs as bin/pyrunc: bin/pyrunc.in with its code
compiled and put on its last line, and run from its #! line.

An interpreter given a script reads it in several system calls (once to see whether it
is bytecode, once to parse it) and compiles it: about 0.3 ms of every command. Its
`-c` flag takes the rest of the #! line instead, so the line becomes

    #!/usr/bin/python3.11 -ISc<CODE>

where CODE reads the file once (the kernel hands it over as argv[1]), decodes the last
line, `#` and base64 of "3.11" + the marshalled code, and execs it. A code object of
another Python (the version prefix differs) falls back on the file's own text, which
stays a working launcher: `python3 -IS /opt/pyrunc/bin/pyrunc` runs it too.

Linux reads at most 255 bytes of a #! line (BINPRM_BUF_SIZE); a longer interpreter
path keeps the plain `#!INTERPRETER -IS` line. What `ps` shows of a pyrunc command is
then the interpreter, that code, the launcher's path and the command's arguments.
"""
import binascii
import marshal
import sys

EXEC_CODE = ('import sys,marshal as m,binascii as b;t=open(sys.argv[1],"rb").read();'
             'd=b.a2b_base64(t[t.rindex(b"\\n#")+2:]);exec(m.loads(d[4:])if d[:4]==sys.version[:4].encode()else t)')
MAX_SHEBANG = 255


def tag():
    """What precedes the marshalled code: the interpreter's major.minor, as EXEC_CODE
    compares it (marshal's format and the bytecode change only between those)."""
    return sys.version[:4].encode()


def render(template, interpreter):
    """The launcher's text for `interpreter` from bin/pyrunc.in's text."""
    text = template.replace("@PYTHON@", interpreter)
    first, _, body = text.partition("\n")
    code = compile(text, "pyrunc-launcher", "exec", dont_inherit=True)
    blob = binascii.b2a_base64(tag() + marshal.dumps(code), newline=False).decode("ascii")
    fast = "#!%s -ISc%s" % (interpreter, EXEC_CODE)
    if len(fast.encode()) <= MAX_SHEBANG:
        first = fast
    return "%s\n%s%s#%s\n" % (first, body, "" if body.endswith("\n") else "\n", blob)


def embedded(text):
    """(tag, code object) from a rendered launcher's last line."""
    data = binascii.a2b_base64(text[text.rindex("\n#") + 2:])
    return data[:4], marshal.loads(data[4:])
