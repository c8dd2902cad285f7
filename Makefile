# creditmine — `make` alone lists the targets. The targets call the `creditmine` CLI.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PARAMS ?= params/default.yaml
PYTEST_ARGS ?=
MLFLOW_PORT ?= 5000
STAMP := $(VENV)/.setup-stamp

.DEFAULT_GOAL := help
.PHONY: help setup system-deps pipeline monitor test reports lab mlflow-ui team-up team-down team-status clean distclean

help: ## Show this list of targets.
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv, install creditmine with its extras (the CJK plot font included), register the `creditmine` Jupyter kernel.

# Re-runs only when pyproject.toml changes: a second `make` skips the install.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 not found: set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[spark,test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name creditmine --display-name "creditmine (Python 3.11)" >/dev/null
	touch $(STAMP)

system-deps: ## Install the system packages the tests use (Chromium, Java 17, PostgreSQL) when missing; needs root.
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing="$$missing postgresql"; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	if [ -z "$$missing" ]; then echo "system packages present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "missing system packages:$$missing (install them as root: apt-get install$$missing)"; fi

pipeline: setup ## Run the whole pipeline on PARAMS (default params/default.yaml): data, features, train, explain, validate, register.
	$(BIN)/creditmine run --params $(PARAMS)

PRODUCT ?= quick_loan
monitor: setup ## Monitor PRODUCT's champion over the production period of PARAMS, month by month (reports/monitor/).
	$(BIN)/creditmine monitor-period --params $(PARAMS) --product $(PRODUCT)

test: setup system-deps ## Run the test suite (includes the whole pipeline on params/ci.yaml).
	$(BIN)/python -m pytest $(PYTEST_ARGS)

reports: setup ## Regenerate every report from scratch on params/ci.yaml (what CI checks).
	$(BIN)/creditmine run --params params/ci.yaml --fresh

LAB_PORT ?= 8888
LAB_ARGS ?=
# root (a container, CI) must say so to Jupyter; the server listens on loopback only either way
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: setup ## Open JupyterLab on the notebooks on 127.0.0.1 (port LAB_PORT, 8888); their defaults are the latest run.
	$(BIN)/jupyter lab --ip=127.0.0.1 --port=$(LAB_PORT) $(LAB_ROOT) --notebook-dir=notebooks $(LAB_ARGS)

mlflow-ui: setup ## Browse the embedded MLflow store at http://127.0.0.1:$(MLFLOW_PORT) (loopback only).
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --default-artifact-root ./mlruns/artifacts --host 127.0.0.1 --port $(MLFLOW_PORT)

team-up: setup ## Start the team server on loopback (PostgreSQL + MLflow with authentication; accounts from params/team.yaml).
	$(BIN)/creditmine team up

team-status: setup ## Is the team server up, and does its audit trail verify?
	$(BIN)/creditmine team status

team-down: setup ## Stop the team server (its data stays in .team/).
	$(BIN)/creditmine team down

clean: ## Delete generated data, runs, reports and the MLflow store (keeps .venv).
	rm -rf data runs reports benchmarks/.work spark-warehouse metastore_db derby.log
	find mlruns -mindepth 1 -not -name README.md -not -name .gitignore -delete 2>/dev/null || true

distclean: clean ## Also delete .venv.
	rm -rf $(VENV)
