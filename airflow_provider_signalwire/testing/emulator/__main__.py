"""Run the emulator from the command line; see :func:`cli.main`."""

from __future__ import annotations

import sys

from airflow_provider_signalwire.testing.emulator.cli import main

sys.exit(main())
