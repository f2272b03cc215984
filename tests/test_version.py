"""The provider's version: one value, and the CHANGELOG's unreleased version while one is being written."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.version import Version

import airflow_provider_signalwire

ROOT = Path(__file__).resolve().parent.parent


def test_the_version_is_a_pre_release_of_the_changelogs_unreleased_version():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert airflow_provider_signalwire.__version__ == declared, "the User-Agent's version is the package's"
    version = Version(declared)  # what `airflow providers list` shows comes from the package metadata: PEP 440
    top = re.search(r"^## (\S+)( \(unreleased\))?$", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert top is not None
    if top.group(2):
        assert version.is_prerelease and version.base_version == top.group(1), (declared, top.group(0))
    else:
        assert str(version) == top.group(1), (declared, top.group(0))
