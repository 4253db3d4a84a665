# The README's two commands: `make book` and `make test`. Both create .venv on first
# use and are safe to run again (installs are skipped while pyproject.toml is unchanged).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
OUT ?= book/_build/html
SPHINXOPTS ?= -nW --keep-going

AXE_VERSION ?= 4.14.1
AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js
WABT_VERSION ?= 1.0.39
WABT := $(VENV)/npm-tools/node_modules/wabt/package.json

.PHONY: book test test-shipped test-hosted test-shipped-rest chromium axe wabt wasm clean

book: $(VENV)/.docs-installed
	$(BIN)/sphinx-build $(SPHINXOPTS) -b html book $(OUT)

# Two pytest-xdist workers (TEST_WORKERS=0: one process), a module's tests on one worker, modules
# in the order tests/conftest.py gives (the one visit of every page first, slow modules next).
TEST_WORKERS ?= 2
XDIST = -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: $(VENV)/.test-installed chromium axe wabt
	$(BIN)/python -m pytest $(XDIST)

# The book and the package as they ship: the whole book as Read the Docs builds it (real-weights
# paths from a fake hub, 7 GB cap), the wheel in a fresh venv, full-size engine checks. Minutes,
# so not in `make test`; .ci/run runs the hosted build beside `make book` (test-hosted) and the
# rest after `make test` (test-shipped-rest): the two together are `make test-shipped`.
test-shipped: $(VENV)/.test-installed
	$(BIN)/python -m pytest $(XDIST) -m shipped
test-hosted: $(VENV)/.test-installed
	$(BIN)/python -m pytest -m "shipped and hosted"
test-shipped-rest: $(VENV)/.test-installed
	$(BIN)/python -m pytest $(XDIST) -m "shipped and not hosted"

# pip installs without compiling (it compiles on one core), then compileall writes every .pyc on all
# cores: measured, 82 s instead of 109 s from nothing. The .pyc files must exist: with
# PYTHONDONTWRITEBYTECODE set (as on CI machines), Python would otherwise compile torch again in
# every process. Files that do not compile (a package's test data) are skipped, as pip skips them.
PIP_INSTALL = $(BIN)/pip install -q --no-compile
COMPILE = $(BIN)/python -m compileall -q -j 0 $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') > /dev/null || true

$(VENV)/.torch-installed:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(PIP_INSTALL) "$(TORCH)"
	$(COMPILE)
	touch $@

$(VENV)/.docs-installed: pyproject.toml $(VENV)/.torch-installed
	$(PIP_INSTALL) -e ".[docs]"
	$(COMPILE)
	touch $@

$(VENV)/.test-installed: pyproject.toml $(VENV)/.docs-installed
	$(PIP_INSTALL) -e ".[docs,test]"
	$(COMPILE)
	touch $@

# Browser tests drive Debian's chromium, never a downloaded browser.
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver; \
	  else echo "Install Debian's Chromium first: sudo apt-get install chromium chromium-driver"; exit 1; fi; }

# axe-core (accessibility checks in the browser tests), from the npm registry into .venv
axe: $(AXE)
$(AXE):
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq npm; \
	  else echo "Install npm first: sudo apt-get install npm"; exit 1; fi; }
	npm install --prefix $(VENV)/axe --no-audit --no-fund --loglevel=error axe-core@$(AXE_VERSION)
	test -f $@

# wabt compiles _static/tinylm/engines/simd.wat into simd.js (the committed bytes); the page never needs it
wabt: $(WABT)
$(WABT): | $(AXE)
	npm install --prefix $(VENV)/npm-tools --no-audit --no-fund --loglevel=error wabt@$(WABT_VERSION)
	test -f $@

wasm: $(WABT)
	node tools/build_wasm.mjs

clean:
	rm -rf book/_build book/auto_examples book/sg_execution_times.rst book/_generated
