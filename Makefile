# Two commands: `make demo` (the example DAGs against the local emulator) and `make test` (the whole suite,
# on every supported Airflow minor, as CI runs it).
PYTHON ?= python3.11
UV_VERSION := 0.13.9
# The newest minor lives in .venv (demo, lint, benchmarks); each older one in .venv-airflow-3.X.
NEWEST := 3.3
OLDER := 3.1 3.2
UV := .venv/bin/uv
airflow_version = $(shell sed -n 's/^apache-airflow==//p' constraints/airflow-$(1).txt)

.PHONY: demo test lint venv venvs constraints clean $(addprefix test-,$(NEWEST) $(OLDER))

$(UV):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv .venv
	.venv/bin/pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'

# One environment per minor, each installed from that minor's constraints file (uv's cache serves all three).
# An editable install leaves *.egg-info in the checkout, which Airflow 3.2+ would count as a second copy of the
# provider (and warn that its plugin is already registered) whenever Airflow runs from here: remove it.
.venv/.installed: pyproject.toml constraints/airflow-$(NEWEST).txt | $(UV)
	$(UV) pip install --quiet --python .venv/bin/python -c constraints/airflow-$(NEWEST).txt \
		-e '.[dev]' 'apache-airflow==$(call airflow_version,$(NEWEST))'
	rm -rf *.egg-info
	touch $@

.venv-airflow-%/.installed: pyproject.toml constraints/airflow-%.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) .venv-airflow-$*
	$(UV) pip install --quiet --python .venv-airflow-$*/bin/python -c constraints/airflow-$*.txt \
		-e '.[dev]' 'apache-airflow==$(call airflow_version,$*)'
	rm -rf *.egg-info
	touch $@

venv: .venv/.installed

venvs: venv $(foreach minor,$(OLDER),.venv-airflow-$(minor)/.installed)

demo: venv
	.venv/bin/python scripts/demo.py

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy airflow_provider_signalwire

# pytest exits 5 when it ran no test: that is a failure here, not a pass.
define run_pytest
	@echo "== Airflow $(1): $$($(2) -c 'import airflow; print(airflow.__version__)')"
	$(2) -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo 'pytest ran no tests'; exit 1; fi; exit $$status
endef

test-$(NEWEST): venv
	$(call run_pytest,$(NEWEST),.venv/bin/python)

define older_minor_test
test-$(1): .venv-airflow-$(1)/.installed
	$$(call run_pytest,$(1),.venv-airflow-$(1)/bin/python)
endef
$(foreach minor,$(OLDER),$(eval $(call older_minor_test,$(minor))))

# Lint once, then the suite on every minor; each minor runs even when an earlier one failed, and any failure fails.
test: lint venvs
	@failed=""; for minor in $(NEWEST) $(OLDER); do \
		$(MAKE) --no-print-directory test-$$minor || failed="$$failed $$minor"; \
	done; \
	if [ -n "$$failed" ]; then echo "Tests failed on Airflow:$$failed"; exit 1; fi

# Re-resolve the pins (then run `make test` to prove them).
constraints: venv
	.venv/bin/python scripts/constraints.py

clean:
	rm -rf .venv .venv-airflow-* .airflow-demo .pytest_cache .mypy_cache .ruff_cache
