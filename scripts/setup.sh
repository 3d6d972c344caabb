#!/bin/sh
# The set-up behind `make setup` (and so `make lab` / `make test`):
#
#   sh scripts/setup.sh pick      print the Python interpreter to build .venv with, or one error line
#   sh scripts/setup.sh check     refuse an existing .venv made with an unsupported Python
#   sh scripts/setup.sh install   create .venv, install requirements.lock, then tfpt (editable) and
#                                 the site's onnxruntime-web (npm ci, site/package-lock.json)
#   sh scripts/setup.sh lock      rewrite requirements.lock from pyproject.toml (`make lock`)
#
# Python: $PYTHON if given, else python3 if it is 3.11-3.13, else the newest of python3.13,
# python3.12, python3.11 on PATH. The installer: uv when it is on PATH or installs into the venv
# (`pip install uv`, seconds), else pip; both install the same hashed lock. $PIP_ARGS is passed to
# either (e.g. `--no-index --find-links /media/usb/wheels` for an offline wheelhouse);
# TFPT_INSTALLER=pip forces pip.
set -eu

SUPPORTED="3.11 3.12 3.13"
NEED="Python 3.11, 3.12 or 3.13"
HOWTO="get one with pyenv (pyenv install 3.13), uv (uv python install 3.13) or your system's package (e.g. apt install python3.13), then run make again, or name it: make setup PYTHON=/path/to/python3.13"
VENV=.venv
LOCK=requirements.lock
UV_VERSION=0.13.8
PIP_ARGS=${PIP_ARGS:-}

say() { echo "tfpt set-up: $*"; }
fail() { echo "tfpt set-up: error: $*" >&2; exit 1; }

# "3.12" for a runnable interpreter, nothing for a missing or broken one (pyenv shims of
# versions that are not active exit non-zero).
version_of() {
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}

supported() {
    case " $SUPPORTED " in *" ${1:-none} "*) return 0 ;; esac
    return 1
}

pick() {
    if [ -n "${PYTHON:-}" ]; then
        v=$(version_of "$PYTHON")
        supported "$v" && { echo "$PYTHON"; return; }
        fail "PYTHON=$PYTHON is ${v:+Python }${v:-not a runnable Python}; tfpt needs $NEED: $HOWTO"
    fi
    found=$(version_of python3)
    if supported "$found"; then echo python3; return; fi
    for candidate in python3.13 python3.12 python3.11; do
        supported "$(version_of "$candidate")" && { echo "$candidate"; return; }
    done
    fail "tfpt needs $NEED, found ${found:+python3 = Python }${found:-no python3}: $HOWTO"
}

check() {
    [ -x "$VENV/bin/python" ] || return 0
    v=$(version_of "$VENV/bin/python")
    supported "$v" || fail "$VENV was made with ${v:+Python }${v:-a Python that no longer runs}, which tfpt does not support ($NEED): remove it (rm -rf $VENV) and run make again"
}

# uv on PATH, else uv installed into the venv by pip; nothing when neither works (then pip).
find_uv() {
    [ "${TFPT_INSTALLER:-auto}" = pip ] && return 0
    if command -v uv >/dev/null 2>&1; then command -v uv; return; fi
    if timeout 120 "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        $PIP_ARGS "uv==$UV_VERSION" >/dev/null 2>&1; then
        echo "$VENV/bin/uv"
    fi
}

install() {
    check
    if [ ! -x "$VENV/bin/python" ]; then
        python=$(pick)
        "$python" -m venv "$VENV"
    fi
    uv=$(find_uv)
    start=$(date +%s)
    if [ -n "$uv" ]; then
        # uv reads no pip.conf: PIP_ARGS carries an offline wheelhouse to it as to pip.
        "$uv" pip install --quiet --python "$VENV/bin/python" $PIP_ARGS -r "$LOCK"
        "$uv" pip install --quiet --python "$VENV/bin/python" $PIP_ARGS --no-deps -e .
        how="uv"
    else
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $PIP_ARGS \
            --require-hashes -r "$LOCK"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $PIP_ARGS --no-deps -e .
        how="pip"
    fi
    # The site's demo runs the exported models with onnxruntime-web, pinned in site/package-lock.json.
    if command -v npm >/dev/null 2>&1; then
        npm ci --prefix site --no-audit --no-fund --silent >/dev/null
    else
        say "npm not found: the site's in-browser demo will have no onnxruntime-web (apt install npm)"
    fi
    "$VENV/bin/python" -m ipykernel install --user --name tfpt --display-name "Python (tfpt)" >/dev/null
    "$VENV/bin/python" -c "import matplotlib.pyplot"  # build the font cache once, not inside a test
    say "done in $(( $(date +%s) - start )) s with $how: $VENV has $($VENV/bin/python -V) and the locked stack"
}

lock() {
    uv=$(command -v uv || true)
    if [ -z "$uv" ] && [ -x "$VENV/bin/uv" ]; then uv=$VENV/bin/uv; fi
    [ -n "$uv" ] || fail "make lock needs uv: pip install uv==$UV_VERSION (or run make setup, which installs it into $VENV)"
    # One lock for every platform and supported Python (markers where wheels differ).
    "$uv" pip compile pyproject.toml --extra test --extra site --universal --python-version 3.11 \
        --constraint scripts/lock-constraints.txt \
        --generate-hashes --quiet -o "$LOCK"
    say "$LOCK written from pyproject.toml"
}

case "${1:-}" in
    pick) pick ;;
    check) check ;;
    install) install ;;
    lock) lock ;;
    *) fail "usage: sh scripts/setup.sh pick|check|install|lock" ;;
esac
