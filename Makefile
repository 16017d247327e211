# Set-up and everyday commands. Every target creates .venv/ when it is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# pytest-xdist: two workers per core, handed the tests one by one in the order
# tests/conftest.py sorts them (the slowest first). About half of the suite's time is spent
# waiting on real services (Airflow's scheduler, the emulator, PostgreSQL), so a worker per
# core would leave the cores idle half the time.
WORKERS ?= $(shell echo $$((2 * $$(nproc))))
PARALLEL := -n $(WORKERS) --dist loadgroup
# The tests' scratch files (SQLite databases, Airflow homes, PostgreSQL's data) in memory.
TEST_TMPDIR := $(if $(wildcard /dev/shm/.),/dev/shm,/tmp)

.PHONY: demo test test-fast cluster lint bench lock clean

$(INSTALLED): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==0.13.9
	# Bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set, every process of the
	# suite (Airflow's services and task processes too) would compile its imports again.
	$(VENV)/bin/uv pip install --quiet --compile-bytecode -p $(PY) -r requirements.lock
	$(VENV)/bin/uv pip install --quiet -p $(PY) --no-deps -e .
	touch $@

## make demo: the main job end to end on SQLite and the bundled Wonde emulator.
demo: $(INSTALLED)
	$(PY) scripts/demo.py

## make airflow: after make demo, Airflow's UI (and the Wonde page) on the demo's data; Ctrl-C stops it.
.PHONY: airflow
airflow: $(INSTALLED)
	$(PY) scripts/airflow_local.py

## make test: lint, then the whole test suite (PostgreSQL and SQLite), two workers per core.
test: $(INSTALLED) lint
	TMPDIR=$(TEST_TMPDIR) $(VENV)/bin/pytest $(PARALLEL)

## make test-fast: the inner loop: the SQLite tests that need no real Airflow, no lint.
test-fast: $(INSTALLED)
	TMPDIR=$(TEST_TMPDIR) $(VENV)/bin/pytest $(PARALLEL) -m "not postgres and not slow and not cluster"

## make cluster: the distributed set-up with real processes (CeleryExecutor, Redis, two
## workers), end to end, with its checks.
cluster: $(INSTALLED)
	TMPDIR=$(TEST_TMPDIR) $(VENV)/bin/pytest -p no:cacheprovider -rP -m cluster tests/scripts/test_cluster.py

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## make bench: throughput and peak memory of the catalog rebuild.
bench: $(INSTALLED)
	$(PY) bench/catalog_rebuild.py

## make lock: re-resolve requirements.txt into requirements.lock.
lock: $(INSTALLED)
	$(VENV)/bin/uv pip compile -p $(PY) --no-header requirements.txt -o requirements.lock

clean:
	rm -rf $(VENV) .demo
