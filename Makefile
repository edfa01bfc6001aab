# clinic-audit: the front door. `make help` lists the targets.
SHELL := /bin/bash
CLINIC ?= demo
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TIME = /usr/bin/env TIMEFORMAT='  [%Rs]' bash -c 'time "$$@"' --

.DEFAULT_GOAL := help
.PHONY: help venv deps report init test coverage lint notebook bench screenshots clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@echo "==> creating $(VENV) and installing clinic-audit (first run only)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(TIME) $(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock --config-settings editable_mode=compat -e '.[dev]'
	@echo "==> registering the Jupyter kernel 'clinic-audit' inside $(VENV)"
	@$(PY) -m ipykernel install --sys-prefix --name clinic-audit --display-name "clinic-audit (Python 3.11)" >/dev/null
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		$(VENV)/bin/nbstripout --install --attributes .gitattributes && \
		echo "==> nbstripout installed: notebook outputs are stripped on commit"; fi
	@touch $(STAMP)

venv: $(STAMP) ## Create the virtual environment (done automatically by other targets)

deps: ## Install the system libraries WeasyPrint needs (pango, DejaVu fonts); Debian/Ubuntu, as root
	apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils

report: $(STAMP) ## Render the audit of CLINIC (default demo) into reports/CLINIC/ (ARGS=--fresh)
	@echo "==> rendering the audit of '$(CLINIC)'"
	@$(TIME) $(PY) -m clinic_analysis report --clinic $(CLINIC) $(ARGS)

init: $(STAMP) ## Draft params/CLINIC.yaml from export files: make init CLINIC=x FILES="a.csv b.xlsx"
	@test -n "$(FILES)" || { echo 'usage: make init CLINIC=x FILES="a.csv b.xlsx"'; exit 2; }
	@$(PY) -m clinic_analysis init --clinic $(CLINIC) $(FILES)

test: $(STAMP) ## Run the test suite
	@echo "==> running the tests"
	@$(TIME) $(PY) -m pytest -n 2 --dist loadfile -q

coverage: $(STAMP) ## Run the test suite with line coverage of clinic_analysis (report in reports/coverage/)
	@$(TIME) $(PY) -m pytest -n 2 --dist loadfile -q --cov=clinic_analysis --cov-report=term:skip-covered --cov-report=html:reports/coverage

lint: $(STAMP) ## Check the code and notebooks with ruff
	@$(PY) -m ruff check clinic_analysis tests notebooks scripts
	@$(PY) -m ruff format --check clinic_analysis tests scripts

notebook: $(STAMP) ## Open notebooks/ in Jupyter Lab, kernel clinic-audit (ARGS= passes flags)
	@$(PY) -c "import jupyterlab" 2>/dev/null || $(PY) -m pip install --quiet -c requirements.lock --config-settings editable_mode=compat -e '.[dev,lab]'
	@$(VENV)/bin/jupyter lab --notebook-dir=notebooks \
		--MappingKernelManager.default_kernel_name=clinic-audit \
		$$( [ "$$(id -u)" = 0 ] && echo --allow-root ) $(ARGS)

bench: $(STAMP) ## Whole audits of 10k and 100k-patient clinics, time + memory per stage (SIZES=... adds 1M; ARGS=--doc x.md)
	@$(PY) scripts/bench.py $(if $(SIZES),--sizes $(SIZES)) $(ARGS)

screenshots: ## Screenshots of reports/CLINIC/audit.html at 390 and 1280 px (headless Chromium)
	@test -f reports/$(CLINIC)/audit.html || { echo "no reports/$(CLINIC)/audit.html: run make report first"; exit 2; }
	@mkdir -p reports/$(CLINIC)-screenshots
	@for w in 390 1280; do \
		chromium --headless --no-sandbox --hide-scrollbars --window-size=$$w,2400 \
			--screenshot=reports/$(CLINIC)-screenshots/$$w.png file://$(CURDIR)/reports/$(CLINIC)/audit.html 2>/dev/null \
		&& echo "  reports/$(CLINIC)-screenshots/$$w.png"; done

clean: ## Remove generated reports, demo data and caches (keeps .venv)
	rm -rf reports/*/ data/ .cache .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
