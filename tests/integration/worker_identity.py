"""The hostname a test's Celery worker reports for the tasks it runs.

Two workers on one machine share its hostname, so the task instances could not say which ran
them. ``AirflowStack`` starts each worker with ``AIRFLOW__CORE__HOSTNAME_CALLABLE`` pointing
here and its name in ``CREDIT_RISK_TEST_WORKER_NAME``; the task runner records this as the task
instance's ``hostname``.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    """The worker's test name (the machine's name outside such a worker)."""
    return os.environ.get("CREDIT_RISK_TEST_WORKER_NAME") or socket.getfqdn()
