# The two set-up commands are `make demo` and `make test`; both start from a bare clone.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
# Debian packages: Pango and fonts render the PDF reports (the demo writes some); the tests
# also drive a real browser and read PDFs with poppler's tools.
REPORT_PACKAGES = libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
APT_INSTALL = sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq

.PHONY: venv report-deps system-deps test lint format demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

report-deps:
	@if ! { ldconfig -p 2>/dev/null || /sbin/ldconfig -p; } | grep -q libpangoft2-1.0.so.0 || ! fc-list 2>/dev/null | grep -q DejaVuSans; then \
	  echo "Installing Debian packages: $(REPORT_PACKAGES)"; \
	  $(APT_INSTALL) $(REPORT_PACKAGES) >/dev/null; \
	fi

system-deps: report-deps
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v pdftoppm >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(APT_INSTALL) $$missing >/dev/null; \
	fi

test: venv system-deps
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo: venv report-deps
	$(BIN)/relhealth demo --if-empty --serve

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache dist build
