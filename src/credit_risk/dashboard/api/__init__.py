"""The JSON endpoints: one behind every widget of the page, reusable by any other tool.

Each route validates its parameters (``params``), opens one read-only connection, runs the
widget's queries (``queries``) and returns plain JSON. Errors are turned into 4xx/503 messages by
the handlers in ``app``.
"""

from __future__ import annotations

# importing the route modules registers their endpoints on the router
from credit_risk.dashboard.api import charts, customers, lists, status  # noqa: F401
from credit_risk.dashboard.api.common import data_docs_file, data_docs_url, router

__all__ = ["data_docs_file", "data_docs_url", "router"]
