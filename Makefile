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

# RTL datapath (equivalence/rtl, tests/test_adopter_rtl.py): `make test` needs Icarus Verilog.
# Run as root, it installs it when missing; otherwise it stops with the command to run.
.PHONY: rtl-simulator
test: rtl-simulator
rtl-simulator:
	@command -v iverilog >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y iverilog; \
	  else echo "make test needs Icarus Verilog; as root run: apt-get update && apt-get install -y iverilog" >&2; \
	    exit 1; fi; }
