"""Everything :meth:`SignalWireEmulator.reset` forgets, built afresh: clock, records, faults, request log."""

from __future__ import annotations

from airflow_provider_signalwire.testing.emulator.accounts import Accounts
from airflow_provider_signalwire.testing.emulator.calls import Calls
from airflow_provider_signalwire.testing.emulator.context import Context, Settings
from airflow_provider_signalwire.testing.emulator.faults import Faults
from airflow_provider_signalwire.testing.emulator.messages import Messages
from airflow_provider_signalwire.testing.emulator.phone_numbers import PhoneNumbers
from airflow_provider_signalwire.testing.emulator.request_log import RequestLog
from airflow_provider_signalwire.testing.emulator.routing import Router


class EmulatorState:
    """One emulator's resources and the router over their routes. Not thread-safe: hold the emulator's lock."""

    def __init__(self, project_id: str, settings: Settings) -> None:
        self.context = Context(project_id, settings)
        self.phone_numbers = PhoneNumbers(self.context)
        self.messages = Messages(self.context, self.phone_numbers)
        self.calls = Calls(self.context, self.phone_numbers)
        self.faults = Faults()
        self.log = RequestLog()
        self.accounts = Accounts(self.context)
        routes = [*self.accounts.routes(), *self.calls.routes(), *self.messages.routes(), *self.phone_numbers.routes()]
        self.router = Router(routes)

    def now(self) -> float:
        return self.context.clock.now()
