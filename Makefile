# Every target installs what it needs into a venv under the repo.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Development machines keep the pinned upstream manifests beside the checkout: the tests and the
# demo read them through APPLIANCE_UPSTREAM (the product itself never looks outside its install).
ifeq ($(APPLIANCE_UPSTREAM),)
ifneq ($(wildcard ../shared/upstream/.),)
export APPLIANCE_UPSTREAM := $(abspath ../shared/upstream)
endif
endif

.PHONY: demo test unit lint bench clean install image

install: $(STAMP)

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH ./scripts/demo.sh

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

# The fast tier alone: no process, no port, no stack (tests/conftest.py enforces it).
unit: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m "not integration"

lint: $(STAMP)
	$(BIN)/ruff check appliance stubs conformance e2e tests scripts setup.py
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema custom.github-workflows-require-timeout .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions action.yml
	$(BIN)/zizmor --offline --no-progress --strict-collection .github/workflows action.yml

bench: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python scripts/bench.py

# The stubs image the cluster targets run (stubs/Dockerfile); needs a running Docker daemon.
IMAGE ?= appliance-stubs:dev
image:
	@command -v docker >/dev/null 2>&1 || { echo "make image: docker not found: install Docker" \
		"(https://docs.docker.com/get-docker/) to build $(IMAGE)" >&2; exit 3; }
	@docker info >/dev/null 2>&1 || { echo "make image: the Docker daemon is not reachable" \
		"('docker info' failed): start Docker, then run 'make image' again" >&2; exit 3; }
	docker build -f stubs/Dockerfile -t $(IMAGE) .

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
