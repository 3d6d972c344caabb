# Two commands for a fresh machine: `make lab` (set up, open the series) and
# `make test` (set up, run unit tests and every notebook). `make run` executes
# the whole series headless into build/. Set-up is idempotent: it reinstalls only
# when pyproject.toml changed or .venv is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tfpt-installed
export TF_CPP_MIN_LOG_LEVEL ?= 3

NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=600 \
         --nbval-sanitize-with tests/nbval_sanitize.cfg

NB ?= $(wildcard notebooks/[0-9][0-9]_*.ipynb)

.PHONY: setup lab test run notebooks student site doctor clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(PIP_ARGS) -e ".[test,site]"
	$(BIN)/python -m ipykernel install --user --name tfpt --display-name "Python (tfpt)" >/dev/null
	@$(BIN)/python -c "import matplotlib.pyplot"  # build the font cache once, not inside a test
	@touch $@
	@echo "set-up done: $(VENV) has the pinned stack and tfpt (editable)"

# Works on a laptop (opens the browser), as root in a container (--allow-root) and on a
# headless server or over SSH (--no-browser; prints the URL): see scripts/lab.py.
lab: setup
	$(BIN)/python scripts/lab.py $(ARGS)

test: setup
	$(BIN)/ruff check .
	TFPT_QUICK=$${TFPT_QUICK:-1} timeout 3000 $(BIN)/python -m pytest tests notebooks $(NBVAL) -n 2 --dist loadfile

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

doctor: setup
	$(BIN)/python -m tfpt doctor

clean:
	rm -rf build runs .pytest_cache
