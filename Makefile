# The README's two commands: `make book` and `make test`. Both create .venv on first
# use and are safe to run again (installs are skipped while pyproject.toml is unchanged).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
OUT ?= book/_build/html
SPHINXOPTS ?= -nW --keep-going

.PHONY: book test chromium clean

book: $(VENV)/.docs-installed
	$(BIN)/sphinx-build $(SPHINXOPTS) -b html book $(OUT)

test: $(VENV)/.test-installed chromium
	$(BIN)/python -m pytest

$(VENV)/.torch-installed:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	touch $@

$(VENV)/.docs-installed: pyproject.toml $(VENV)/.torch-installed
	$(BIN)/pip install -q -e ".[docs]"
	touch $@

$(VENV)/.test-installed: pyproject.toml $(VENV)/.docs-installed
	$(BIN)/pip install -q -e ".[docs,test]"
	touch $@

# Browser tests drive Debian's chromium, never a downloaded browser.
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver; \
	  else echo "Install Debian's Chromium first: sudo apt-get install chromium chromium-driver"; exit 1; fi; }

clean:
	rm -rf book/_build book/auto_examples book/sg_execution_times.rst book/_generated
