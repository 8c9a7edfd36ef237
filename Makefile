# The two Quickstart commands: `make demo` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV ?= .venv
TOOLS ?= .venv-tox
PIP_FLAGS = --disable-pip-version-check -q

.PHONY: demo test

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

test: $(TOOLS)/.installed
	$(TOOLS)/bin/tox run -e ci
