"""include/sql is laid out by layer, and the catalog names every file in it."""

from __future__ import annotations

import re

import pytest

from credit_risk import catalog
from credit_risk.analytics import anomalies, model
from credit_risk.settings import SQL_DIR
from credit_risk.warehouse.schema import read_sql, sql_path


def test_every_sql_file_sits_in_the_folder_of_its_layer_and_is_named():
    files = {path.relative_to(SQL_DIR).as_posix() for path in SQL_DIR.rglob("*.sql")}
    named = {catalog.sql_file(name) for names in catalog.SQL_LAYERS.values() for name in names}
    assert files == named
    assert {path.parent.name for path in SQL_DIR.rglob("*.sql")} == set(catalog.SQL_LAYERS)


def test_models_select_and_every_other_file_creates_its_own_object():
    for layer, names in catalog.SQL_LAYERS.items():
        for name in names:
            statement = re.sub(r"--.*$", "", read_sql(name), flags=re.M).lower()
            created = re.findall(
                r"create (?:or replace )?(?:table|view) (?:if not exists )?(\w+)", statement
            )
            assert created == ([] if layer == "models" else [name]), name


def test_the_analytics_tables_are_the_ones_their_jobs_create():
    assert set(catalog.ANALYTICS_TABLES) == {anomalies.TABLE, *model.TABLES}


def test_a_name_outside_the_catalog_is_refused_by_name():
    with pytest.raises(KeyError, match="no_such_table"):
        sql_path("no_such_table")
