"""The executive dashboard: a FastAPI app over the published snapshot.

``create_app`` builds the app (the Airflow plugin mounts it on the API server); ``serve`` runs
it standalone with uvicorn (``credit-risk dashboard``). See docs/dashboard.md.
"""

from __future__ import annotations

from credit_risk.dashboard.app import create_app, serve

__all__ = ["create_app", "serve"]
