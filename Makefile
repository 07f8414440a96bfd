# kazu-spark: `make run` annotates the bundled sample, `make test` runs the suite.
# Both bootstrap ./.venv, install the package and cache the Delta jars (through Spark's Ivy, once, into
# ~/.cache/kazu-spark/jars; `kazu-spark setup` does nothing when they are there).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
KS     := $(VENV)/bin/kazu-spark

.PHONY: setup run test test-all lint package reliability clean

setup: $(VENV)/.installed
	$(KS) setup

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[local,dev]'
	touch $@

run: setup
	$(KS) annotate

# CI (.ci/run) runs `make test`: everything (reliability suite and doctests included) but the `heavy`
# tests (standalone and local-cluster Spark, the soft-label job), which `make test-all` adds
test: setup
	$(PY) -m pytest -m "not heavy" --durations=15

test-all: setup
	$(PY) -m pytest

# dist/: the wheel, kazu_spark.zip (--py-files) and model.tar.gz (--archives ...#model) for cluster runs
package: setup
	$(PY) -m tools.package --out dist

# the reliability suite alone (also part of `make test`), then its table in docs/reliability.md
reliability: setup
	rm -rf build/reliability
	$(PY) -m pytest -m reliability -q
	$(PY) tests/reliability_report.py

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf dist lakehouse spark-warehouse metastore_db derby.log .pytest_cache
