from __future__ import annotations

from datetime import datetime

import pytest

from airflow_provider_signalwire.exceptions import SignalWireInputError
from airflow_provider_signalwire.operators.phone_numbers import SignalWireSetPhoneNumberWebhooksOperator
from airflow_provider_signalwire.webhooks import webhook_url

from .conftest import register_dag

NUMBER = "+15550000001"
OTHER_NUMBER = "+15550000002"
AIRFLOW_URL = "https://airflow.example.com"


@pytest.fixture
def emulator(signalwire_conn):
    return signalwire_conn


def number_state(emulator, number: str) -> dict:
    return next(item for item in emulator.phone_numbers if item["number"] == number)


def relay_requests(emulator, method: str) -> list[dict]:
    return [r for r in emulator.requests if r["method"] == method and r["path"].startswith("/api/relay/rest/")]


def test_number_is_pointed_at_the_receiver_by_its_e164_number(emulator):
    messages_url = webhook_url(AIRFLOW_URL, "signalwire_default", "messages")
    operator = SignalWireSetPhoneNumberWebhooksOperator(
        task_id="point_number", phone_number=NUMBER, message_request_url=messages_url
    )

    result = operator.execute({})

    state = number_state(emulator, NUMBER)
    assert state["message_handler"] == "laml_webhooks"
    assert state["message_request_url"] == "https://airflow.example.com/signalwire/webhooks/signalwire_default/messages"
    assert state["call_request_url"] is None  # calls left as they were
    assert result["id"] == state["id"]
    assert result["number"] == NUMBER
    assert result["message_request_url"] == messages_url
    (put,) = relay_requests(emulator, "PUT")
    assert put["json"] == {"message_handler": "laml_webhooks", "message_request_url": messages_url}
    assert number_state(emulator, OTHER_NUMBER)["message_request_url"] is None


def test_number_is_updated_by_its_id_with_call_webhooks(emulator):
    number_id = number_state(emulator, OTHER_NUMBER)["id"]
    operator = SignalWireSetPhoneNumberWebhooksOperator(
        task_id="point_calls",
        phone_number=number_id,
        call_request_url=webhook_url(AIRFLOW_URL, kind="calls"),
        call_request_method="get",
        call_status_callback_url=webhook_url(AIRFLOW_URL, kind="calls/status"),
    )

    operator.execute({})

    state = number_state(emulator, OTHER_NUMBER)
    assert state["call_handler"] == "laml_webhooks"
    assert state["call_request_method"] == "GET"
    assert state["call_status_callback_url"].endswith("/signalwire/webhooks/signalwire_default/calls/status")
    assert relay_requests(emulator, "GET") == []  # an id needs no lookup


def test_running_it_again_changes_nothing_more(emulator):
    operator = SignalWireSetPhoneNumberWebhooksOperator(
        task_id="point_number", phone_number=NUMBER, message_request_url="https://hooks.example.com/sms"
    )
    first = operator.execute({})
    second = operator.execute({})

    assert first == second
    assert number_state(emulator, NUMBER)["message_request_url"] == "https://hooks.example.com/sms"


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"phone_number": NUMBER}, "message_request_url"),
        ({"phone_number": NUMBER, "message_request_url": "ftp://hooks.example.com/sms"}, "message_request_url"),
        ({"phone_number": NUMBER, "call_request_url": "/relative"}, "call_request_url"),
        ({"phone_number": NUMBER, "call_request_url": "https://h.example", "call_request_method": "PUT"}, "GET"),
        ({"phone_number": "5550000001", "message_request_url": "https://h.example"}, "phone_number"),
        ({"phone_number": "../numbers", "message_request_url": "https://h.example"}, "phone_number"),
    ],
)
def test_bad_input_is_refused_before_any_request(emulator, arguments, named):
    operator = SignalWireSetPhoneNumberWebhooksOperator(task_id="point_number", **arguments)

    with pytest.raises(SignalWireInputError, match=named):
        operator.execute({})
    assert emulator.requests == []


def test_number_outside_the_project_fails_without_retry(emulator):
    from airflow_compat import AirflowFailException

    operator = SignalWireSetPhoneNumberWebhooksOperator(
        task_id="point_number", phone_number="+15559999999", message_request_url="https://h.example/sms"
    )

    with pytest.raises(AirflowFailException, match=r"\+15559999999 is not in the project"):
        operator.execute({})
    assert relay_requests(emulator, "PUT") == []


def test_number_is_found_among_numbers_sharing_its_digits(emulator):
    # The API filters by substring: +155500000011 contains +15550000001.
    emulator.add_phone_number("+155500000011")
    operator = SignalWireSetPhoneNumberWebhooksOperator(
        task_id="point_number", phone_number=NUMBER, message_request_url="https://h.example/sms"
    )

    assert operator.execute({})["number"] == NUMBER
    assert number_state(emulator, "+155500000011")["message_request_url"] is None


def test_next_page_of_numbers_is_followed_from_its_link():
    from airflow_provider_signalwire.api.resources.phone_numbers import PHONE_NUMBERS

    plan = PHONE_NUMBERS.list_plan({"project_id": "p"}, filters={"number": "+1555"})
    link = "https://x.signalwire.com/api/relay/rest/phone_numbers?page_number=1&page_token=PA1"
    request = plan.next_request({"data": [], "links": {"next": link}}, set())
    assert request.path == "/api/relay/rest/phone_numbers?page_number=1&page_token=PA1"
    assert plan.next_request({"data": [], "links": {"self": "/x"}}, set()) is None


def test_templated_arguments_render_in_a_dag_run(airflow_db, emulator):
    from airflow.sdk import DAG

    with DAG(
        "signalwire_point_number",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        params={"number": NUMBER, "airflow_url": AIRFLOW_URL},
    ) as dag:
        SignalWireSetPhoneNumberWebhooksOperator(
            task_id="point_number",
            phone_number="{{ params.number }}",
            message_request_url="{{ params.airflow_url }}/signalwire/webhooks/signalwire_default/messages",
        )
    register_dag(dag)

    dag_run = dag.test()

    assert dag_run.state == "success"
    assert number_state(emulator, NUMBER)["message_request_url"] == webhook_url(AIRFLOW_URL)
