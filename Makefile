# The README's two commands: `make lab` (set up + open the lessons) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The minimum-versions venv: pyproject.toml's lower bounds, pinned in requirements-min.txt.
VENV_MIN ?= .venv-min
PY_MIN := $(VENV_MIN)/bin/python
STAMP_MIN := $(VENV_MIN)/.installed
# The lessons the minimum leg runs (QUICK): characters, the biLM, ELMo representations.
MIN_LESSONS := notebooks/02_*.ipynb notebooks/03_*.ipynb notebooks/05_*.ipynb
# The lesson scripts (notebooks/NN_slug.py, jupytext pairs of the notebooks) are linted like code.
LINT_TARGETS := elmo_lib tests benchmarks tools scripts notebooks/*.py

.PHONY: lab test test-fast test-min lint sync bench install install-min clean

$(STAMP): pyproject.toml requirements-lock.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-lock.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

# Unit tests, then every notebook in QUICK mode (nbval, by glob). QUICK runs write their figures
# and results files to temporary folders so the committed full-run figures and results/*.json
# stay as they are.
test: $(STAMP)
	$(VENV)/bin/ruff check $(LINT_TARGETS)
	$(PY) -m pytest -q -m "not slow" tests
	ELMO_QUICK=1 ELMO_FIGURES_DIR=$$(mktemp -d) ELMO_RESULTS_DIR=$$(mktemp -d) $(PY) -m pytest -q --nbval-lax notebooks/
	# Any biLM preset runs lessons 05-08: lesson 08 again on an encoder-only copy of the shipped
	# biLM (no softmax, so its domain adaptation is skipped with one printed line).
	d=$$(mktemp -d) && $(PY) -c "import sys, elmo_lib as el; el.presets.export_encoder_only('wikitext2_cpu', sys.argv[1])" $$d/encoder_only && \
	  ELMO_PRESET=$$d/encoder_only ELMO_QUICK=1 ELMO_FIGURES_DIR=$$d ELMO_RESULTS_DIR=$$d $(PY) -m pytest -q --nbval-lax notebooks/08_going_further.ipynb

# The same unit tests and three lessons with the oldest versions pyproject.toml allows, installed
# in a second venv from requirements-min.txt (written by tools/min_requirements.py).
$(STAMP_MIN): pyproject.toml requirements-min.txt
	rm -rf $(VENV_MIN)
	$(PYTHON) -m venv $(VENV_MIN)
	$(PY_MIN) -m pip install --quiet --upgrade pip
	$(PY_MIN) -m pip install --quiet -r requirements-min.txt
	$(PY_MIN) -m pip install --quiet --no-deps -e .
	$(PY_MIN) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP_MIN)

install-min: $(STAMP_MIN)

test-min: $(STAMP_MIN)
	$(PY_MIN) -m pytest -q -m "not slow" tests
	ELMO_QUICK=1 ELMO_FIGURES_DIR=$$(mktemp -d) ELMO_RESULTS_DIR=$$(mktemp -d) $(PY_MIN) -m pytest -q --nbval-lax $(MIN_LESSONS)

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -x tests

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINT_TARGETS)

# After editing a lesson script (notebooks/NN_slug.py) outside JupyterLab: carry the change into its
# notebook (outputs of unchanged cells are kept). See docs/contributing.md.
sync: $(STAMP)
	$(VENV)/bin/jupytext --sync notebooks/[0-9][0-9]_*.py

bench: $(STAMP)
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/embed_throughput.py

clean:
	rm -rf $(VENV) $(VENV_MIN) .pytest_cache .ruff_cache
