"""The ``signalwire`` scheme of Airflow's common ``MessageQueueTrigger`` (the common-messaging provider)."""
