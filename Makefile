# The two commands for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
HOST   ?= 127.0.0.1
PORT   ?= 5000

# Lock files (pip-tools, every file pinned with its hashes; CPython 3.11 on Linux x86_64):
# requirements.txt for the app, requirements-dev.txt for the app + the test and dev extras.
# Installing from them fetches nothing else (--require-hashes; the project itself is installed
# with --no-deps --no-build-isolation, setuptools coming from the lock). `make lock` refreshes them.
LOCK     := requirements.txt
LOCK_DEV := requirements-dev.txt
PIP_TOOLS ?= pip-tools==7.6.2
LINT_PATHS := webapp tests scripts channelsim bench migrations deploy

.PHONY: run test install install-test lint typecheck lock lock-upgrade catalogs serve clean channelsim bench stack

$(PY):
	$(PYTHON) -m venv $(VENV)

install: $(PY)
	$(PIP) install -q --require-hashes -r $(LOCK)
	$(PIP) install -q --no-deps --no-build-isolation -e .
	$(MAKE) -s catalogs

install-test: $(PY)
	$(PIP) install -q --require-hashes -r $(LOCK_DEV)
	$(PIP) install -q --no-deps --no-build-isolation -e .
	$(MAKE) -s catalogs

catalogs:
	$(VENV)/bin/pybabel compile -d webapp/translations -f

# Install, migrate, seed the demo data and serve the embedded default (SQLite, simulated channel, in-process worker).
run: install
	$(VENV)/bin/flask --app wsgi db upgrade
	$(VENV)/bin/flask --app wsgi seed-demo
	$(VENV)/bin/flask --app wsgi run --host $(HOST) --port $(PORT)

# The channel simulator service (a separate process with its own database); needs CHANNEL_SECRET.
channelsim: install
	$(PY) -m channelsim --host 127.0.0.1 --port 8765 --db instance/channelsim.db

# The production stack on this machine (see README, Production): nginx on https://127.0.0.1:8443 in front of
# 2 gunicorn nodes, 2 payout workers; needs DATABASE_URL (PostgreSQL), uses REDIS_URL (default
# redis://127.0.0.1:6379/0) and Debian's nginx. `make stack STACK_ARGS='--nodes 3 --seed-demo'`; Ctrl-C stops it.
stack: install
	$(PY) -m deploy.stack $(STACK_ARGS)

# Install the test dependencies and run the whole suite (SQLite, PostgreSQL, Chromium).
test: install-test
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The "Speed and scale" benchmark (bench/README.md): PostgreSQL on 127.0.0.1:5432, wrk, pgbench.
# `make bench BENCH_ARGS='--only http,search'` runs some figures.
bench: install
	$(PY) -m bench.run $(BENCH_ARGS)

# Ruff (its rules are in pyproject.toml); read-only, it never rewrites a file.
lint: install-test
	$(VENV)/bin/ruff check $(LINT_PATHS)

# mypy on webapp (settings in pyproject.toml); CI runs it before the tests.
typecheck: install-test
	$(VENV)/bin/mypy

# Re-resolve the lock files from pyproject.toml, keeping the current pins where they still fit;
# `make lock-upgrade` moves every pin to the newest release allowed.
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile -q --generate-hashes \
	--allow-unsafe --strip-extras --all-build-deps --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

lock: $(PY)
	$(PIP) install -q '$(PIP_TOOLS)'
	$(PIP_COMPILE) -o $(LOCK) pyproject.toml
	$(PIP_COMPILE) -c $(LOCK) --extra test --extra dev -o $(LOCK_DEV) pyproject.toml

lock-upgrade:
	$(MAKE) lock LOCK_ARGS=--upgrade

clean:
	rm -rf $(VENV) instance *.egg-info
