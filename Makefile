# Two commands matter: `make run` (serve with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi.py

.PHONY: run worker test deps dev-deps assets browser db demo lint bench docs requirements

HOST ?= 127.0.0.1
PORT ?= 5000

# The job worker (alerts, webhooks, the daily log purge) runs beside the server on
# instance/jobs.sqlite; emails go to the terminal and instance/outbox.txt. Both stop with
# `make` (Ctrl-C, or a SIGTERM from an IDE), and the address and log-ins are said once the
# server answers. `make run PORT=8000` when 5000 is taken.
run: deps assets db demo  ## Serve the app on SQLite with demo data at http://$(HOST):$(PORT)
	@$(BIN)/python -c "import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('$(HOST)', $(PORT)))" 2>/dev/null \
		|| { echo "Port $(PORT) on $(HOST) is taken: stop what uses it, or run \`make run PORT=8000\`."; exit 1; }
	@export PUBLIC_URL="$${PUBLIC_URL:-http://$(HOST):$(PORT)}"; \
	$(BIN)/flask worker & worker=$$!; \
	$(BIN)/flask run --host $(HOST) --port $(PORT) & server=$$!; \
	trap 'kill $$worker $$server 2>/dev/null; wait' EXIT INT TERM; \
	until $(BIN)/python -c "import urllib.request; urllib.request.urlopen('http://$(HOST):$(PORT)/health/live', timeout=1)" 2>/dev/null; do \
		kill -0 $$server 2>/dev/null || exit 1; sleep 0.2; done; \
	echo; echo "Toolbox is serving at http://$(HOST):$(PORT)/ - log in as demo@example.com (owner of Acme Robotics, with dev@ and viewer@example.com)," \
		"support@example.com or admin@example.com, password demo-password. Ctrl-C stops it."; echo; \
	wait $$server

test: dev-deps assets browser  ## Run the whole test suite (PostgreSQL and Chromium tests too)
	$(BIN)/pytest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

deps: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt

# The example plugin has no file to hash, so it installs apart (with the pinned setuptools).
dev-deps: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e ./examples/plugin

# After changing requirements*.in: pins with hashes, keeping every version already pinned
# (options in pyproject.toml). `.venv/bin/pip-compile --upgrade-package NAME requirements.in`
# moves one package, then this again for the dev file.
requirements: dev-deps
	$(BIN)/pip-compile --quiet requirements.in
	$(BIN)/pip-compile --quiet requirements-dev.in

# htmx, Bootstrap, Plotly's basic bundle (bar and line charts) and Redoc's standalone bundle (the
# portal's API reference, /docs/api) from the npm registry (pinned in package-lock.json), never
# committed; axe-core comes with them and the browser tests read it from node_modules/axe-core. Each file also gets a gzipped copy, which WhiteNoise serves to
# browsers that accept it.
assets: node_modules/.package-lock.json
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	cp node_modules/bootstrap/dist/css/bootstrap.min.css static/vendor/bootstrap.min.css
	cp node_modules/plotly.js-basic-dist-min/plotly-basic.min.js static/vendor/plotly-basic.min.js
	@# Redoc 2.5 draws its sidebar's "API docs by Redocly" logo from cdn.redoc.ly, which the CSP
	@# refuses (img-src 'self'): pointed at an empty data: URL, the image fails and Redoc hides it.
	sed 's|https://cdn.redoc.ly/redoc/logo-mini.svg|data:,|' \
		node_modules/redoc/bundles/redoc.standalone.js > static/vendor/redoc.standalone.js
	gzip -9 --keep --force static/vendor/*.js static/vendor/*.css

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

# Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else \
			echo "Chromium is missing: sudo apt-get install chromium (browser tests will skip)"; \
		fi; \
	fi

worker:  ## Run the job worker alone (QUEUE_URL decides the queue)
	$(BIN)/flask worker

db:
	$(BIN)/flask db upgrade
	$(BIN)/flask tools sync

demo:
	$(BIN)/flask demo load

docs: dev-deps  ## Serve the documentation site (docs/) at http://127.0.0.1:8000
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

bench: dev-deps
	$(BIN)/python -m bench
