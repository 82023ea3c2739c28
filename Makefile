# The README's two commands: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Where the outbox backend writes (settings: OUTBOX_DIR, else VAR_DIR/outbox).
OUTBOX := $(abspath $(or $(OUTBOX_DIR),$(VAR_DIR),var)$(if $(OUTBOX_DIR),,/outbox))

.PHONY: demo test run migrate worker beat web clean-var

# A checkout on a laptop is development mode, explicitly (the Docker image is not).
demo run web worker beat migrate: export DEBUG ?= true

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

# The main job on embedded defaults: sample papers in, today's digests out, to var/outbox/.
demo: migrate
	$(BIN)/python manage.py import_papers digest/sample_data/daily_papers_listing.txt
	$(BIN)/python manage.py seed_demo_subscribers
	@mkdir -p $(OUTBOX) && touch $(OUTBOX)/.demo-run
	$(BIN)/python manage.py send_digests --inline --now
	@echo
	@if [ -n "$$(find $(OUTBOX) -name '*.eml' -newer $(OUTBOX)/.demo-run)" ]; then \
	  echo "Emails written to $(OUTBOX)/ (.eml: every email; open the .html files in a browser):"; \
	  find $(OUTBOX) \( -name '*.html' -o -name '*.eml' \) -newer $(OUTBOX)/.demo-run | sort; \
	else \
	  echo "No new emails: today's digests were already sent (they are in $(OUTBOX)/; make clean-var starts afresh)."; \
	fi

# axe-core (package.json), which the browser tests inject to check contrast and landmarks.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	@touch $@

test: $(STAMP) node_modules/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Web + worker + beat on embedded defaults (SQLite, filesystem broker, outbox).
run: migrate
	$(BIN)/honcho start -f Procfile.dev

web: migrate
	$(BIN)/python manage.py runserver
worker: $(STAMP)
	$(BIN)/celery -A digest worker --loglevel=INFO
beat: $(STAMP)
	$(BIN)/celery -A digest beat --loglevel=INFO

clean-var:
	rm -rf var/
