# The two commands for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test install install-test catalogs serve clean channelsim

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

install: $(PY)
	$(PIP) install -q -e .
	$(MAKE) -s catalogs

install-test: $(PY)
	$(PIP) install -q -e '.[test]'
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

# Install the test dependencies and run the whole suite (SQLite, PostgreSQL, Chromium).
test: install-test
	$(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance *.egg-info
