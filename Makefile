# `make run` and `make test` set everything up themselves on a fresh machine (Python 3.11+, pip, Debian packages).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test venv venv-dev translations assets db demo chromium pdf serve scheduler clean

run: pdf demo  ## set up, then serve on SQLite with the scheduler in-process (it prints where, who, and what it did)
	@$(FLASK) dev --host $(HOST) --port $(PORT)

test: venv-dev translations assets chromium pdf  ## set up, lint, then run the suite (on PostgreSQL too when TRACKER_TEST_POSTGRES_URL is set)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q tests
	@if [ -n "$$TRACKER_TEST_POSTGRES_URL" ]; then \
	  echo "=== the same suite on PostgreSQL ($$TRACKER_TEST_POSTGRES_URL) ==="; \
	  TRACKER_TEST_ENGINE=postgres $(BIN)/python -m pytest -q tests; \
	else \
	  echo "!!! TRACKER_TEST_POSTGRES_URL is not set: the PostgreSQL run was SKIPPED !!!"; \
	fi

venv: $(VENV)/.runtime
$(VENV)/.runtime: requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the runtime dependencies into $(VENV) (once)"
	@$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

venv-dev: $(VENV)/.dev
$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	@$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

translations: venv  ## compile the .po catalogues (the .mo files are build output)
	@$(BIN)/pybabel -q compile -d translations

# Static files under content-hashed names, with brotli and gzip copies, into build/ (git-ignored). The app builds
# them itself at start when they are missing; this makes them before the first request.
assets: venv
	@$(BIN)/python -c 'from tracker import assets; assets.main()' >/dev/null

db: venv translations assets  ## migrate the SQLite database under instance/
	@$(FLASK) db upgrade

demo: db  # quiet: `make run` prints the logins itself
	@$(FLASK) seed-demo >/dev/null

# Browser tests drive Debian's Chromium; never `playwright install`, which downloads a browser. Each package is
# checked on its own: without fonts-noto-cjk the screenshots show Korean as boxes.
BROWSER_PACKAGES := chromium fonts-noto-cjk
chromium:
	@missing=""; for p in $(BROWSER_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian's$$missing for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

# The PDFs (점검 결과서, council report: issue 16) are drawn by WeasyPrint, which loads Pango, HarfBuzz and fontconfig
# from the system; Noto CJK gives it Hangul (without it every glyph is a box). poppler-utils' pdftoppm turns a PDF
# into PNGs to look at (bench/report_pdf.py). The scheduler needs them too: it attaches the PDF to each notice.
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libfontconfig1 fonts-noto-cjk \
                poppler-utils
pdf:
	@missing=""; for p in $(PDF_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian's$$missing for the PDFs"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

serve: pdf db  ## production-style: gunicorn with gunicorn.conf.py (run the scheduler as its own process)
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

scheduler: pdf db
	$(FLASK) scheduler

clean:
	rm -rf $(VENV) .pytest_cache build
