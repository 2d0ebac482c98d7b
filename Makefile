# fusion-stream: `make run` and `make test` set up everything they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)
FUSION_KAFKA_PORT ?= 9092
export FUSION_KAFKA_PORT
# Point at an existing broker with FUSION_BROKER=kafka://host:9092: nothing is started then.
BROKER_URL := $(or $(FUSION_BROKER),kafka://127.0.0.1:$(FUSION_KAFKA_PORT))
# The local broker has one node; production topics.yaml asks for 3 replicas.
FUSION_TOPICS_REPLICATION_FACTOR ?= $(if $(FUSION_BROKER),,1)
WITH_BROKER := FUSION_BROKER=$(BROKER_URL) FUSION_TOPICS_REPLICATION_FACTOR=$(FUSION_TOPICS_REPLICATION_FACTOR)
PYTEST_ARGS ?=

.PHONY: setup run test lint fmt kafka-up kafka-down kafka-status topics bench clean

$(STAMP):
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed (found %s)" % sys.version.split()[0]'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)  ## virtualenv + pinned dependencies (fast when nothing changed)

kafka-up: setup  ## local single-node Kafka (KRaft), or check FUSION_BROKER
	@$(BIN)/fusion-stream kafka up

kafka-down: setup
	@$(BIN)/fusion-stream kafka down

kafka-status: setup
	@$(BIN)/fusion-stream kafka status

topics: kafka-up  ## create/alter the topics of topics.yaml
	@$(WITH_BROKER) $(BIN)/fusion-stream topics apply

run: topics  ## worker + a demo HTTP sink on 127.0.0.1:8099; Ctrl-C stops both
	@$(BIN)/fusion-stream sink --port 8099 & sink=$$!; \
	trap 'kill $$sink 2>/dev/null' EXIT; \
	$(WITH_BROKER) $(BIN)/fusion-stream worker --hint

lint: setup
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy

fmt: setup
	@$(BIN)/ruff format .
	@$(BIN)/ruff check --fix .

test: kafka-up  ## the whole suite against the real broker
	@$(WITH_BROKER) $(BIN)/pytest $(PYTEST_ARGS)

bench: kafka-up
	@$(WITH_BROKER) $(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
