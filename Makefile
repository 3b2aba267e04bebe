# The two commands of README.md:
#   make demo   installs what is missing, then runs the default offline recipe
#   make test   installs what is missing, then runs the test suite (without the tests marked slow or recipe_run)
#   make test-recipes  the recipe runs (tests marked recipe_run, not slow); CI runs them after make test
#   make test-all  every test, slow ones included (pytest -m '')
#   make bench  installs what is missing, then runs the benchmark harness (bench/run.py, writes bench/RESULTS.md)
# All three call tools/install.sh first; a second install returns in well under a second.

SHELL := /bin/bash
VENV ?= tools/venv
PYTHON := $(VENV)/bin/python
DEMO_RECIPE ?= egs2/mini_speecht5/asr1
DEMO_STOP_STAGE ?= 13
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: install demo test test-recipes test-all lint bench clean-demo

install:
	@bash tools/install.sh

demo: install
	cd $(DEMO_RECIPE) && ./run.sh --stage 1 --stop_stage $(DEMO_STOP_STAGE)

test: install
	$(PYTHON) -m pytest $(PYTEST_ARGS)

test-recipes: install
	$(PYTHON) -m pytest -m "recipe_run and not slow" $(PYTEST_ARGS)

test-all: install
	$(PYTHON) -m pytest -m "" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PYTHON) bench/run.py $(BENCH_ARGS)

clean-demo:
	cd $(DEMO_RECIPE) && rm -rf data dump exp
