"""Fixtures shared by the integration tests.

The local alert receivers live in ``alert_servers.py``; importing them here makes
``smtp_server``, ``webhook_receiver`` and ``alert_channels`` available to every test module in
this folder (for example a DAG run that must page on-call) without each importing them; so is
``private_mariadb``, a server of the test's own that it may kill.
"""

from __future__ import annotations

from tests.integration.alert_servers import (  # noqa: F401 (fixtures, used by name)
    alert_channels,
    smtp_server,
    webhook_receiver,
)
from tests.integration.private_mariadb import private_mariadb  # noqa: F401 (a fixture)
