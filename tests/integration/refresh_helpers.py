"""Helpers for tests that build and publish outside ``steps.publish_extract``."""

from __future__ import annotations

from pathlib import Path

from credit_risk import pipeline
from credit_risk.quality.published_suite import validate_published
from credit_risk.settings import Settings
from credit_risk.warehouse.build import Build, build
from credit_risk.warehouse.db import Warehouse
from credit_risk.warehouse.publish import Publication


def build_month(
    warehouse: Warehouse, month: str | None = None, *, settings: Settings | None = None
) -> Build:
    """Build the refresh of ``month`` (the latest unpublished month when None), unvalidated."""
    return build(warehouse, month, settings=settings)


def rebuild_everything(warehouse: Warehouse) -> Publication:
    """Rebuild every month from the loaded tables and publish it, without the published suite
    (for tests that write the loaded tables directly)."""
    built = build(warehouse, full=True)
    return pipeline.publish_build(warehouse, built, "test", validate=False)


def validate_build(warehouse: Warehouse, built: Build, docs_root: Path):
    """The published suite on a build's months, its result returned (never raised)."""
    return validate_published(
        warehouse,
        built.plan.months,
        built.table("published_customer_month"),
        suite_month=built.plan.trigger_month,
        docs_root=docs_root,
    )
