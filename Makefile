# The two Quickstart commands: `make demo` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV ?= .venv
TOOLS ?= .venv-tox
PIP_FLAGS = --disable-pip-version-check -q

.PHONY: demo test chromium

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -c constraints.txt -e '.[all]'
	touch $@

$(TOOLS)/.installed:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install $(PIP_FLAGS) 'tox>=4.20'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/boolnet-spec conform --impl=boolnet_spec.equivalence.conformance.implementations:datapath
	$(VENV)/bin/boolnet-spec compare
	$(VENV)/bin/boolnet-spec certify

# The docs test drives Debian's Chromium: installed here when we are root, else the exact command.
CHROMIUM_INSTALL = apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then $(CHROMIUM_INSTALL); \
	  else echo "The docs browser test needs Chromium. Run as root: $(CHROMIUM_INSTALL)"; \
	    exit 1; fi; }

test: $(TOOLS)/.installed chromium
	$(TOOLS)/bin/tox run -e ci
