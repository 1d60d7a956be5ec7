#!/bin/bash
# rtlog.sh: stands in front of an OCI runtime and records how an engine calls it.
#
# Used through a symlink named like the runtime it stands for (DIR/runc, DIR/pyrunc),
# so that an engine that recognises runtimes by their basename (podman's
# runtime_supports_json) treats the wrapper as it treats the runtime.  Next to the
# symlink:
#   NAME.target   the real runtime's path (one line)
#   NAME.log      appended: one "argv" line per call, one "exit" line when it returns
#   NAME.files/   copies of what the call read from files: create's config.json,
#                 exec's --process file
# The runtime runs as a child of this script, with the same stdio, environment and
# argv (update's stdin is saved to NAME.files/ first, then fed to the runtime); the
# script exits with the runtime's status.  For verbs that start no container process
# (state, start, kill, delete, pause, resume, ps, update, features, ...) stderr is
# also copied into the log; for create/run/exec/restore it is left alone, because the
# container inherits it.  What the wrapper changes: one more process between the engine
# and the runtime (the engine's PR_SET_PDEATHSIG lands on the wrapper, and signals sent
# to the wrapper are not passed on), and the wrapper's own few milliseconds per call.
set -u
self=$0
log=$self.log
files=$self.files
real=$(head -n 1 -- "$self.target" 2>/dev/null)
if [ -z "$real" ]; then
    echo "rtlog.sh: no runtime path in $self.target" >&2
    exit 127
fi

stamp() { date +%s.%N; }
fd() { readlink "/proc/$$/fd/$1" 2>/dev/null || echo closed; }

# the verb: the first word that is not a global flag or a global flag's value
verb="" bundle="" process="" id=""
skip=0
for a in "$@"; do
    if [ $skip = 1 ]; then skip=0; continue; fi
    if [ -z "$verb" ]; then
        case $a in
            --root|--log|--log-format|--criu|--rootless|--cgroup-manager) skip=1 ;;
            -*) ;;
            *) verb=$a ;;
        esac
    fi
done
prev=""
for a in "$@"; do
    case $prev in
        --bundle|-b|-bundle) bundle=$a ;;
        --process|-p|-process) process=$a ;;
    esac
    case $a in
        --bundle=*) bundle=${a#--bundle=} ;;
        --process=*) process=${a#--process=} ;;
    esac
    prev=$a
    id=$a        # the container id is the last word of create, run and exec
done

line=$(printf '%s [%d] argv: %q' "$(stamp)" "$$" "$real"; printf ' %q' "$@")
line="$line | stdin=$(fd 0) stdout=$(fd 1) stderr=$(fd 2)"
printf '%s\n' "$line" >>"$log"

mkdir -p -- "$files"
if [ "$verb" = create ] || [ "$verb" = run ]; then
    cp -- "${bundle:-.}/config.json" "$files/config-$id.json" 2>/dev/null
fi
if [ -n "$process" ]; then
    cp -- "$process" "$files/process-$id-$$.json" 2>/dev/null
fi

case $verb in
    create|run|exec|restore|"")
        "$real" "$@"
        rc=$?
        printf '%s [%d] exit %d\n' "$(stamp)" "$$" "$rc" >>"$log"
        ;;
    *)
        err=$(mktemp "$files/stderr.XXXXXX")
        if [ "$verb" = update ] && [ -p /dev/stdin ]; then
            # `update --resources=-`: keep the resources JSON the engine wrote
            cat >"$files/update-stdin-$$.json"
            exec <"$files/update-stdin-$$.json"
        fi
        "$real" "$@" 2>"$err"
        rc=$?
        cat -- "$err" >&2
        {
            printf '%s [%d] exit %d' "$(stamp)" "$$" "$rc"
            if [ -s "$err" ]; then printf ' stderr: %s' "$(tr '\n' ' ' <"$err")"; fi
            printf '\n'
        } >>"$log"
        rm -f -- "$err"
        ;;
esac
exit "$rc"
