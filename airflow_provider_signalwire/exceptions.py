"""Exceptions raised by the SignalWire provider."""

from __future__ import annotations

from airflow_provider_signalwire.compat import AirflowException, AirflowFailException, AirflowNotFoundException


class SignalWireInputError(AirflowFailException, ValueError):
    """
    A parameter or connection setting is not allowed; raised before any request is sent.

    It fails the task without retries: sending the same input again cannot succeed.
    """


class SignalWireConnectionNotFoundError(SignalWireInputError, AirflowNotFoundException):
    """
    The Airflow connection the provider was told to use is not defined; the task fails without retries.

    Its message says what to define: the connection id, its type and the ``AIRFLOW_CONN_<ID>`` form.
    """

    @classmethod
    def for_connection(
        cls, conn_id: str, *, role: str, conn_type: str, example: str
    ) -> SignalWireConnectionNotFoundError:
        """
        :param role: what the connection is for, e.g. ``"SignalWire connection"``.
        :param conn_type: the connection type to give it.
        :param example: its URI form, for the environment variable.
        """
        variable = f"AIRFLOW_CONN_{conn_id.upper()}"
        return cls(
            f"The {role} {conn_id!r} is not defined. Define a connection with id {conn_id!r} and type "
            f"{conn_type!r}: in the UI (Admin > Connections), with `airflow connections add`, in a secrets backend, "
            f"or as the environment variable {variable}='{example}'."
        )


class SignalWireApiError(AirflowException):
    """
    SignalWire answered a request with a non-2xx status.

    :param status: the HTTP status of the response.
    :param method: the HTTP method of the request.
    :param path: the request path relative to the Space (never carries credentials).
    :param code: SignalWire's error code (an int where the body gives a number, else the string given).
    :param message: SignalWire's error message.
    :param more_info: the link to SignalWire's documentation of the error, when given.
    :param retry_after: seconds the server asked the client to wait (``Retry-After``), when given.
    """

    def __init__(
        self,
        *,
        status: int,
        method: str,
        path: str,
        code: int | str | None = None,
        message: str | None = None,
        more_info: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.code = code
        self.message = message
        self.more_info = more_info
        self.retry_after = retry_after
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"SignalWire answered {self.method} {self.path} with HTTP {self.status}"
        if self.code is not None:
            text += f", error {self.code}"
        if self.message:
            text += f": {self.message}"
        if self.more_info:
            text += f" (see {self.more_info})"
        return text

    def __reduce__(self):  # keyword-only __init__ needs help to pickle
        return (_rebuild_api_error, (self.__dict__.copy(),))


def _rebuild_api_error(state: dict) -> SignalWireApiError:
    error = SignalWireApiError.__new__(SignalWireApiError)
    error.__dict__.update(state)
    Exception.__init__(error, str(error))
    return error


class SignalWireConnectionError(AirflowException):
    """
    No usable answer came back from SignalWire (connection refused or dropped, or a timeout).

    :param request_may_have_been_processed: True when the request left this machine and SignalWire may
        have acted on it. A create in that state is never re-sent, so that no SMS or call goes out twice.
    :param timed_out: True when this machine stopped waiting for the answer: SignalWire may act on the request
        later still, so a look for what it created finds it only once it has landed.
    """

    def __init__(self, message: str, *, request_may_have_been_processed: bool, timed_out: bool = False) -> None:
        super().__init__(message)
        self.request_may_have_been_processed = request_may_have_been_processed
        self.timed_out = timed_out

    def __reduce__(self):
        return (_rebuild_connection_error, (self.args[0], self.request_may_have_been_processed, self.timed_out))


def _rebuild_connection_error(message: str, processed: bool, timed_out: bool = False) -> SignalWireConnectionError:
    return SignalWireConnectionError(message, request_may_have_been_processed=processed, timed_out=timed_out)
