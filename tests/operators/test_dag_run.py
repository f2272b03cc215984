"""
Every operator in one real DAG run: templated arguments reach SignalWire rendered, and each task's return
value lands in XCom for the next one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk import DAG, chain

from airflow_provider_signalwire.operators import (
    SignalWireApiCallOperator,
    SignalWireCreateCallOperator,
    SignalWireDeleteCallOperator,
    SignalWireDeleteMessageOperator,
    SignalWireGetCallOperator,
    SignalWireGetMessageOperator,
    SignalWireRedactMessageOperator,
    SignalWireSearchCallsOperator,
    SignalWireSearchMessagesOperator,
    SignalWireSendMessageOperator,
    SignalWireUpdateCallOperator,
)
from airflow_provider_signalwire.testing.emulator import CALL_LONG_NUMBER

from .helpers import FROM_NUMBER, TO_NUMBER, api_requests, rendered_fields, task_states, xcom_value

DAY = datetime(2024, 5, 1, 12, tzinfo=UTC)
PARAMS = {
    "to": TO_NUMBER,
    "from_": FROM_NUMBER,
    "live_to": CALL_LONG_NUMBER,
    "picture": "https://example.com/chart.png",
    "cxml": "https://example.com/cxml/start.xml",
    "validity": 600,
    "max_price": "0.75",
    "ring": 25,
    "digits": "12#",
    "limit": 2,
}


def every_operator_dag() -> DAG:
    def xcom(task_id: str, path: str = "['sid']") -> str:
        return f"{{{{ ti.xcom_pull(task_ids='{task_id}'){path} }}}}"

    with DAG(
        "every_operator", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC), catchup=False, params=PARAMS
    ) as dag:
        messages = [
            SignalWireSendMessageOperator(
                task_id="send",
                to="{{ params.to }}",
                from_="{{ params.from_ }}",
                body="Report for {{ ds }}",
                media_url=["{{ params.picture }}"],
                validity_period="{{ params.validity }}",
                max_price="{{ params.max_price }}",
            ),
            SignalWireGetMessageOperator(task_id="get_message", sid=xcom("send")),
            SignalWireSearchMessagesOperator(
                task_id="search_messages", from_="{{ params.from_ }}", date_sent="{{ ds }}", limit="{{ params.limit }}"
            ),
            SignalWireRedactMessageOperator(task_id="redact", sid=xcom("search_messages", "[0]['sid']")),
            SignalWireDeleteMessageOperator(task_id="delete_message", sid=xcom("redact")),
        ]
        calls = [
            SignalWireCreateCallOperator(
                task_id="call",
                to="{{ params.live_to }}",
                from_="{{ params.from_ }}",
                url="{{ params.cxml }}",
                timeout="{{ params.ring }}",
                send_digits="{{ params.digits }}",
            ),
            SignalWireUpdateCallOperator(
                task_id="redirect", sid=xcom("call"), url="{{ params.cxml }}?step=2", method="{{ 'get' | upper }}"
            ),
            SignalWireUpdateCallOperator(task_id="hang_up", sid=xcom("call"), status="{{ 'completed' }}"),
            SignalWireGetCallOperator(task_id="get_call", sid=xcom("call")),
            SignalWireSearchCallsOperator(task_id="search_calls", to="{{ params.live_to }}", status="completed"),
            SignalWireDeleteCallOperator(task_id="delete_call", sid=xcom("search_calls", "[0]['sid']")),
        ]
        SignalWireApiCallOperator(
            task_id="api_call", path="/api/relay/rest/phone_numbers", query={"filter_number": "{{ params.from_[-4:] }}"}
        )
        chain(*messages)
        chain(*calls)
    return dag


@pytest.mark.signalwire_emulator(status_step_seconds=0.01)
def test_every_operator_renders_its_templates_and_pushes_its_result(run_dag, signalwire_emulator):
    received = [
        signalwire_emulator.inject_inbound_message(
            FROM_NUMBER, TO_NUMBER, f"inbound {i}", date_sent=DAY + timedelta(minutes=i)
        )
        for i in range(3)
    ]

    dag_run = run_dag(every_operator_dag(), logical_date=DAY)

    assert dag_run.state == "success", task_states(dag_run)
    # Messages
    (send,) = api_requests(signalwire_emulator, "POST", r"/Messages$")
    assert send["form"] == {
        "To": [TO_NUMBER],
        "From": [FROM_NUMBER],
        "Body": ["Report for 2024-05-01"],
        "MediaUrl": [PARAMS["picture"]],
        "ValidityPeriod": ["600"],
        "MaxPrice": ["0.75"],
    }
    sent = xcom_value(dag_run, "send")
    assert sent["body"] == "Report for 2024-05-01" and sent["num_media"] == 1
    assert xcom_value(dag_run, "get_message")["sid"] == sent["sid"]
    found = xcom_value(dag_run, "search_messages")
    assert len(found) == 2 and {m["sid"] for m in found} <= {m["sid"] for m in received}
    search = api_requests(signalwire_emulator, "GET", r"/Messages$")[0]
    assert search["query"]["DateSent"] == ["2024-05-01"] and search["query"]["From"] == [FROM_NUMBER]
    assert xcom_value(dag_run, "redact")["sid"] == found[0]["sid"]
    assert xcom_value(dag_run, "redact")["body"] == ""
    assert xcom_value(dag_run, "delete_message") == found[0]["sid"]
    assert signalwire_emulator.get_message(found[0]["sid"]) is None
    assert rendered_fields(dag_run, "send")["body"] == "Report for 2024-05-01"
    # Calls
    (create,) = api_requests(signalwire_emulator, "POST", r"/Calls$")
    assert create["form"]["Timeout"] == ["25"] and create["form"]["SendDigits"] == ["12#"]
    call_sid = xcom_value(dag_run, "call")["sid"]
    updates = [r["form"] for r in api_requests(signalwire_emulator, "POST", rf"/Calls/{call_sid}")]
    assert updates == [{"Url": [f"{PARAMS['cxml']}?step=2"], "Method": ["GET"]}, {"Status": ["completed"]}]
    assert xcom_value(dag_run, "hang_up")["status"] == "completed"
    assert xcom_value(dag_run, "get_call")["sid"] == call_sid
    assert [c["sid"] for c in xcom_value(dag_run, "search_calls")] == [call_sid]
    assert xcom_value(dag_run, "delete_call") == call_sid and signalwire_emulator.calls == []
    assert rendered_fields(dag_run, "redirect")["method"] == "GET"
    # Any request
    (relay,) = api_requests(signalwire_emulator, "GET", r"/api/relay/rest/phone_numbers")
    assert relay["query"]["filter_number"] == ["0001"]
    assert [n["number"] for n in xcom_value(dag_run, "api_call")["data"]] == [FROM_NUMBER]
