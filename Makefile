# Two commands: `make demo` (the example DAGs against the local emulator) and `make test` (the whole suite).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
AIRFLOW_VERSION ?= 3.3.2

.PHONY: demo test lint venv clean

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[dev]' 'apache-airflow==$(AIRFLOW_VERSION)'
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) scripts/demo.py

test: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy airflow_provider_signalwire
	@# pytest exits 5 when it ran no test: that is a failure here, not a pass.
	$(PY) -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo 'pytest ran no tests'; exit 1; fi; exit $$status

clean:
	rm -rf $(VENV) .airflow-demo .pytest_cache .mypy_cache .ruff_cache
