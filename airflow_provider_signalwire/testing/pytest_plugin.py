"""
The ``signalwire_emulator`` pytest fixture: one :class:`SignalWireEmulator` per test, on a free loopback port.

Statuses move on every 0.05 s so tests stay fast. Change any constructor argument for one test with a marker::

    @pytest.mark.signalwire_emulator(status_step_seconds=1.0, require_owned_from=True)
    def test_slow_delivery(signalwire_emulator): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_signalwire.testing.emulator import SignalWireEmulator

FIXTURE_STATUS_STEP_SECONDS = 0.05


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "signalwire_emulator(**kwargs): SignalWireEmulator arguments for the signalwire_emulator fixture"
    )


@pytest.fixture
def signalwire_emulator(request: pytest.FixtureRequest) -> Iterator[SignalWireEmulator]:
    """A started SignalWire emulator on ``127.0.0.1`` and a free port, stopped after the test."""
    options: dict[str, Any] = {"status_step_seconds": FIXTURE_STATUS_STEP_SECONDS}
    marker = request.node.get_closest_marker("signalwire_emulator")
    if marker is not None:
        options.update(marker.kwargs)
    options.update(host="127.0.0.1", port=0)
    with SignalWireEmulator(**options) as emulator:
        yield emulator
