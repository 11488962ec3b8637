# vaxbook: two commands. `make run` serves the embedded default; `make test` runs the suite
# on the real PostgreSQL and Redis.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export DATABASE_URL_TEST ?= postgres://postgres@127.0.0.1:5432/vaxbook
export REDIS_URL_TEST ?= redis://127.0.0.1:6379/1

.PHONY: run test lint bench worker messages catalogues

# Translations: the committed .po catalogues are compiled to .mo (not committed) by Babel, a
# Python package, so nothing has to be installed by hand. `make catalogues` re-extracts the
# texts into the .po files after a change (that step needs GNU gettext: apt install gettext).
PO := $(wildcard locale/*/LC_MESSAGES/*.po */locale/*/LC_MESSAGES/*.po vaxbook/*/locale/*/LC_MESSAGES/*.po)
MO := $(PO:.po=.mo)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

%.mo: %.po | $(STAMP)
	$(BIN)/pybabel compile --statistics -i $< -o $@

messages: $(MO)

catalogues: $(STAMP)
	$(BIN)/python manage.py makemessages --locale ko --no-obsolete --no-wrap --extension html,txt,py \
		--ignore '.venv/*' --ignore 'bench/*' --ignore 'staticfiles/*' --ignore 'test-artifacts/*'

# Embedded default: SQLite, eager Celery, in-memory cache. Nothing else to start.
run: $(STAMP) messages
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python manage.py migrate --noinput
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python manage.py seed_demo
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python manage.py runserver 127.0.0.1:8000

# The real components: PostgreSQL and Redis (DATABASE_URL / REDIS_URL, defaults above).
test: $(STAMP) messages
	DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_TEST)} REDIS_URL=$${REDIS_URL:-$(REDIS_URL_TEST)} \
		$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python manage.py makemigrations --check --dry-run

# The opening surge on the real stack (gunicorn, Celery, PostgreSQL, Redis on 127.0.0.1).
# Options: make bench BENCH_ARGS="--citizens 1000 --clinics 50"
bench: $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	$(BIN)/python -m bench.run $(BENCH_ARGS)
