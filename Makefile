# Two commands for a fresh machine: `make lab` (set up, open the series) and
# `make test` (set up, run unit tests and every notebook). `make run` executes
# the whole series headless into build/. Set-up is idempotent: it reinstalls only
# when pyproject.toml or requirements.lock changed or .venv is missing.
# Python 3.11-3.13: PYTHON if given, else python3, else the newest python3.1x on PATH
# (scripts/setup.sh says in one line what to do when there is none).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tfpt-installed
export TF_CPP_MIN_LOG_LEVEL ?= 3

NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=600 \
         --nbval-sanitize-with tests/nbval_sanitize.cfg

NB ?= $(wildcard notebooks/[0-9][0-9]_*.ipynb)

.PHONY: setup venv-check lock drift lab test test-fast run notebooks student site site-serve doctor clean

setup: venv-check $(STAMP)

# An existing .venv on an unsupported Python is named, not silently reused.
venv-check:
	@sh scripts/setup.sh check

# Installs requirements.lock (every package pinned with hashes) with uv, or pip without it.
$(STAMP): pyproject.toml requirements.lock site/package-lock.json
	@sh scripts/setup.sh install
	@touch $@

# Rewrite requirements.lock after a pin in pyproject.toml changed (tests/test_setup.py
# fails while the two disagree).
lock:
	@sh scripts/setup.sh lock

# The newest releases of the stack in build/drift-venv (no pins): unit tests and notebooks in
# quick mode, report in build/drift.md. Not part of `make test`; see README "Keeping up".
drift:
	python3 scripts/drift.py

# Works on a laptop (opens the browser), as root in a container (--allow-root) and on a
# headless server or over SSH (--no-browser; prints the URL): see scripts/lab.py.
lab: setup
	$(BIN)/python scripts/lab.py $(ARGS)

test: setup
	$(BIN)/ruff check .
	TFPT_QUICK=$${TFPT_QUICK:-1} timeout 3000 $(BIN)/python -m pytest tests notebooks $(NBVAL) -n 2 --dist loadfile \
	    --durations=15

# While editing: the unit tests not marked slow (no notebooks, no subprocess runs).
test-fast: setup
	TFPT_QUICK=1 $(BIN)/python -m pytest tests -m "not slow" -n 2 -q

run: setup
	$(BIN)/python scripts/run_series.py

# Re-execute notebooks in full mode and write their outputs back, for a commit:
# `make notebooks NB=notebooks/04_mnist.ipynb` (default: all of them).
notebooks: setup
	env -u TFPT_QUICK $(BIN)/python scripts/run_series.py --inplace $(NB)

# Instructors: the student edition (solutions stubbed, outputs cleared) in build/student,
# and the executed series as an offline static site in build/site.
student: setup
	$(BIN)/python scripts/build_student.py

site: setup
	$(BIN)/python scripts/build_site.py

# The demo page loads WebAssembly, which browsers refuse from file://: serve on 127.0.0.1:8000.
site-serve: site
	$(BIN)/python scripts/serve_site.py

doctor: setup
	$(BIN)/python -m tfpt doctor

clean:
	rm -rf build runs .pytest_cache
