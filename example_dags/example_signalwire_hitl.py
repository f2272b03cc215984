"""
Approve by text: the approver gets an SMS with a one-time code and answers by replying ``APPROVE 48213377``.

``SignalWireHITLNotifier`` texts each responder the request's subject, its options, the code, the deadline and the
link to the request in Airflow's UI, once per request. A signed reply to the sending number reaches the webhook
receiver in Airflow's API server (the number's messaging webhook is
``<Airflow>/signalwire/webhooks/signalwire_default/messages``), which answers the request as the responder's Airflow
user and texts back ``Approved: approve_load in example_signalwire_hitl``. Rejected, ``publish`` is skipped.

The connection maps responders in its ``hitl_responders`` extra: ``{"alice": "+15550000002"}``.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, task

from airflow_provider_signalwire.hitl import response_timeout
from airflow_provider_signalwire.notifications import SignalWireHITLNotifier

FROM_NUMBER = "+15550000001"

with DAG(
    dag_id="example_signalwire_hitl",
    schedule=None,
    catchup=False,
    tags=["example", "signalwire"],
    doc_md=__doc__,
):
    approve_load = ApprovalOperator(
        task_id="approve_load",
        subject="Load today's orders into the warehouse?",
        assigned_users=[{"id": "alice", "name": "alice"}],
        **response_timeout(timedelta(hours=4)),  # execution_timeout on Airflow 3.1's standard provider
        notifiers=[SignalWireHITLNotifier(from_=FROM_NUMBER)],
    )

    @task
    def publish() -> str:
        return "published"

    approve_load >> publish()
