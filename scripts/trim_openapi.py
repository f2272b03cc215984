"""
Write ``tests/spec/*.json``: the parts of SignalWire's official OpenAPI specs that the emulator serves.

The emulator is this project's test oracle and ``tests/test_emulator_spec.py`` checks its answers against the
official specs. The full specs are large (2.4 MB of YAML); this keeps, for each spec, the operations the
emulator serves (``SignalWireEmulator.operations``) and every component they reference, unchanged. Run it again
when the emulator serves more or the specs change::

    .venv/bin/python scripts/trim_openapi.py --source /path/to/the/official/specs
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from airflow_provider_signalwire.testing import SignalWireEmulator

ROOT = Path(__file__).resolve().parent.parent
SPECS = {
    "signalwire-compatibility-openapi.yaml": "signalwire-compatibility-openapi.json",
    "signalwire-rest-openapi.yaml": "signalwire-rest-openapi.json",
}
KEPT_TOP_LEVEL = ("openapi", "info", "servers", "security")


def _references(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _references(value)
        return found
    if isinstance(node, list):
        return set().union(*(_references(value) for value in node)) if node else set()
    return set()


def _resolve(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def trim(document: dict[str, Any], served: set[tuple[str, str]]) -> dict[str, Any]:
    """The operations of ``document`` whose (method, full path) the emulator serves, and what they reference."""
    prefix = urlsplit(document["servers"][0]["url"]).path.rstrip("/")
    paths: dict[str, Any] = {}
    for path, item in document["paths"].items():
        kept = {
            method: operation
            for method, operation in item.items()
            if isinstance(operation, dict) and (method.upper(), prefix + path) in served
        }
        if kept:
            shared = {key: value for key, value in item.items() if key == "parameters"}
            paths[path] = {**shared, **kept}
    trimmed: dict[str, Any] = {key: document[key] for key in KEPT_TOP_LEVEL if key in document}
    trimmed["paths"] = paths
    components: dict[str, dict[str, Any]] = {}
    pending, seen = _references(paths), set()
    while pending:
        ref = pending.pop()
        if ref in seen or not ref.startswith("#/components/"):
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        target = _resolve(document, ref)
        components.setdefault(kind, {})[name] = target
        pending |= _references(target)
    for scheme in document.get("components", {}).get("securitySchemes", {}):
        components.setdefault("securitySchemes", {})[scheme] = document["components"]["securitySchemes"][scheme]
    trimmed["components"] = {kind: dict(sorted(items.items())) for kind, items in sorted(components.items())}
    return trimmed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="the folder with the official YAML specs")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "spec")
    arguments = parser.parse_args()
    with SignalWireEmulator(port=0) as emulator:
        served = set(emulator.operations)
    arguments.out.mkdir(parents=True, exist_ok=True)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for source, target in SPECS.items():
        with (arguments.source / source).open() as spec_file:
            document = yaml.load(spec_file, Loader=loader)  # noqa: S506 - a safe loader
        trimmed = trim(document, served)
        (arguments.out / target).write_text(json.dumps(trimmed, indent=1, sort_keys=False) + "\n")
        operations = sum(len(item) for item in trimmed["paths"].values())
        print(f"{target}: {operations} operations, {sum(map(len, trimmed['components'].values()))} components")


if __name__ == "__main__":
    main()
