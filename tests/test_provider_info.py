"""The provider's registration, as Airflow itself reads it."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import airflow
import jsonschema
import pytest
from airflow_compat import AIRFLOW_V_3_2_PLUS

from airflow_provider_signalwire.get_provider_info import get_provider_info


def test_provider_info_validates_against_airflows_schema():
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_the_declared_airflow_versions_agree_everywhere():
    import re
    import tomllib

    root = Path(__file__).resolve().parent.parent
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    (requirement,) = [d for d in pyproject["project"]["dependencies"] if d.startswith("apache-airflow")]
    lowest = re.fullmatch(r"apache-airflow>=(\d+\.\d+)", requirement).group(1)
    readme = (root / "README.md").read_text()
    assert re.search(r"Apache Airflow (\d+\.\d+)\+", readme).group(1) == lowest
    assert f"Requires Apache Airflow {lowest}+." in get_provider_info()["description"]
    minors = sorted(path.stem.removeprefix("airflow-") for path in (root / "constraints").glob("airflow-*.txt"))
    assert minors[0] == lowest, minors
    # The README's table of what each minor gets names every minor that is tested.
    header = next(line for line in readme.splitlines() if line.startswith("| feature |"))
    assert [f"Airflow {minor}" in header for minor in minors] == [True] * len(minors), header


def test_entry_point_is_registered_under_the_distribution_name():
    (point,) = [
        p for p in entry_points(group="apache_airflow_provider") if p.value.startswith("airflow_provider_signalwire")
    ]
    info = point.load()()
    assert info["package-name"] == point.dist.name == "airflow-provider-signalwire"


def test_every_declared_class_and_module_imports():
    info = get_provider_info()
    modules = [
        m
        for key in ("hooks", "operators", "sensors", "triggers")
        for entry in info.get(key, [])
        for m in entry["python-modules"]
    ]
    for module in modules:
        importlib.import_module(module)
    for dotted in [c["hook-class-name"] for c in info["connection-types"]] + info.get("notifications", []):
        module, _, name = dotted.rpartition(".")
        assert hasattr(importlib.import_module(module), name), dotted
    for plugin in info.get("plugins", []):
        module, _, name = plugin["plugin-class"].rpartition(".")
        assert hasattr(importlib.import_module(module), name)


@pytest.mark.skipif(
    not AIRFLOW_V_3_2_PLUS,
    reason="Airflow 3.1 builds connection forms with WTForms, which only its API server stands in for; "
    "test_the_uis_hook_metadata_carries_the_form checks what its UI gets",
)
def test_providers_manager_yields_the_connection_form():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-signalwire" in manager.providers
    hook = manager.hooks["signalwire"]
    assert hook is not None and hook.hook_class_name.endswith("SignalWireHook")
    behaviour = manager.field_behaviours["signalwire"]
    assert set(behaviour["hidden_fields"]) == {"schema", "port"}
    assert behaviour["relabeling"] == {"host": "Space", "login": "Project ID", "password": "API Token"}
    assert "example" in behaviour["placeholders"]["host"]
    widgets = manager.connection_form_widgets
    for name in ("signing_secret", "default_from", "timeout", "base_url"):
        assert f"extra__signalwire__{name}" in widgets, name
    assert widgets["extra__signalwire__signing_secret"].is_sensitive
    assert widgets["extra__signalwire__signing_secret"].field["schema"]["title"] == "Signing Key"


def test_signing_secret_extra_is_masked_by_name():
    from airflow.sdk._shared.secrets_masker import should_hide_value_for_key

    assert should_hide_value_for_key("signing_secret")


def test_airflow_providers_list_shows_the_provider():
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "--output", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    names = [p["package_name"] for p in json.loads(result.stdout[result.stdout.index("[") :])]
    assert "airflow-provider-signalwire" in names


UI_HOOK_META = """
import json
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

(meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "signalwire"]
standard = meta.standard_fields
print(json.dumps({
    "hook_name": meta.hook_name,
    "extra_fields": sorted(meta.extra_fields or {}),
    "signing_secret": (meta.extra_fields or {}).get("signing_secret"),
    "host": standard.host.title, "login": standard.login.title, "password": standard.password.title,
    "port_hidden": standard.port is None or standard.port.hidden,
}, default=str))
"""


def test_the_uis_hook_metadata_carries_the_form():
    # A fresh process: the UI's service builds the providers' forms once per process (and, on Airflow 3.1, with
    # stand-ins for WTForms that an earlier ProvidersManager in this process would not have had).
    result = subprocess.run([sys.executable, "-c", UI_HOOK_META], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    meta = json.loads(result.stdout.strip().splitlines()[-1])
    assert meta["hook_name"] == "SignalWire"
    assert set(meta["extra_fields"]) >= {"signing_secret", "default_from", "timeout", "base_url"}
    assert meta["signing_secret"]["schema"]["format"] == "password"
    assert meta["signing_secret"]["schema"]["title"] == "Signing Key"
    assert (meta["host"], meta["login"], meta["password"]) == ("Space", "Project ID", "API Token")
    assert meta["port_hidden"]


def test_every_notifier_the_package_exports_is_declared_and_airflow_lists_it():
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk import BaseNotifier

    import airflow_provider_signalwire.notifications as notifications

    exported = sorted(  # a set: send_signalwire_notification is SignalWireNotifier by its lower-case name
        {
            f"{notifier.__module__}.{notifier.__name__}"
            for notifier in (getattr(notifications, name) for name in notifications.__all__)
            if isinstance(notifier, type) and issubclass(notifier, BaseNotifier)
        }
    )
    assert len(exported) == 2, exported
    assert sorted(get_provider_info()["notifications"]) == exported
    assert set(exported) <= set(ProvidersManager().notification)
