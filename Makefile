# The two commands a newcomer needs: `make book` and `make test`.
# Everything else (the virtual environment, the installs) happens on the way.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Sweeps embed precomputed frames, progress bars stay quiet: outputs are reproducible.
RUN    := NBCODE_SWEEP=static TQDM_DISABLE=1

.PHONY: book test lab bench outputs reproducible venv clean help

help:
	@echo "make book     build the HTML book into _build/html"
	@echo "make test     unit tests, type check, nbval over every notebook, -W book build"
	@echo "make lab      open the notebooks in JupyterLab"
	@echo "make outputs  re-execute the notebooks in place (commit the result)"
	@echo "make bench    speed figures (not part of make test)"
	@echo "make reproducible  re-execute under other CPUs' kernels and compare (by hand, not in make test)"

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

book: $(STAMP)
	$(RUN) $(BIN)/python scripts/build_book.py --execute cache
	@echo "The book is at file://$(CURDIR)/_build/html/index.html"

# One pytest run, one summary line: nbcode's unit tests and doctests, mypy (tests/test_typecheck.py),
# the -W book build on the committed outputs (tests/test_html.py), the built pages in headless
# Chromium (tests/test_browser.py; scripts/ensure_chromium.sh installs it in CI), the live sweep
# in JupyterLab (tests/test_lab.py) and nbval over every notebook in _toc.yml, its kernels in a
# reduced numeric configuration unlike the one `make outputs` used (conftest.py); two workers,
# each file (so each notebook) kept on one worker (conftest.py's scheduler).
test: $(STAMP)
	bash scripts/ensure_chromium.sh
	$(RUN) $(BIN)/python -m pytest -n 2 --dist loadfile --durations=10 \
	  --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 300 \
	  --doctest-modules tests nbcode book

# The book works offline: JupyterLab is told not to fetch news or check for updates.
lab: $(STAMP)
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' \
	  > $(VENV)/share/jupyter/lab/settings/overrides.json
	$(BIN)/jupyter lab --notebook-dir=book

outputs: $(STAMP)
	$(RUN) $(BIN)/python scripts/execute_notebooks.py

# Other OpenBLAS kernels, one thread, torch's baseline kernels: every output must stay the same.
# By hand only: tests and CI never set OPENBLAS_* (scripts/check_reproducible.py).
reproducible: $(STAMP)
	$(RUN) $(BIN)/python scripts/check_reproducible.py --config all --jobs 2

bench: $(STAMP)
	$(RUN) $(BIN)/python scripts/bench.py

clean:
	rm -rf _build
