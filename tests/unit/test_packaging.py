"""The package finds its SQL however it is installed, and the CLI starts without the heavy
libraries (they are imported inside the commands that need them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from credit_risk import catalog

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import credit_risk
from credit_risk.settings import SQL_DIR
from credit_risk.warehouse.schema import read_sql
print(credit_risk.__file__)
print(SQL_DIR)
for name in {names!r}:
    assert read_sql(name).strip(), name
"""


def test_a_wheel_install_reads_its_own_sql(tmp_path):
    # built from a copy: setuptools leaves build/ and *.egg-info in the folder it builds
    source, dist, site = tmp_path / "source", tmp_path / "dist", tmp_path / "site"
    for part in ("src", "include"):
        shutil.copytree(REPO / part, source / part, symlinks=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "-q", "--no-deps", "-w", str(dist), str(source)], check=True)
    (wheel,) = dist.glob("credit_risk_monitor-*.whl")
    subprocess.run(
        [*pip, "install", "-q", "--no-deps", "--target", str(site), str(wheel)], check=True
    )
    names = [*catalog.TABLES, *catalog.MODELS, *catalog.PUBLISHED_VIEWS]
    probe = subprocess.run(
        [sys.executable, "-c", PROBE.format(names=names)],
        env={**os.environ, "PYTHONPATH": str(site)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    package_file, sql_dir = probe.stdout.split()
    assert Path(package_file).is_relative_to(site)  # the wheel's copy, not the repository's
    assert Path(sql_dir).is_relative_to(site) and not Path(sql_dir).is_symlink()


def test_the_repository_link_is_the_include_folder():
    from credit_risk.settings import SQL_DIR

    assert SQL_DIR.resolve() == (REPO / "include" / "sql").resolve()


def test_the_cli_starts_without_the_heavy_libraries():
    heavy = ("pandas", "numpy", "pyarrow", "sqlalchemy", "great_expectations", "sklearn", "MySQLdb")
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, credit_risk.cli; print([m for m in {heavy!r} if m in sys.modules])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "[]"


def test_every_settings_class_lives_in_the_settings_package():
    import importlib
    import pkgutil

    from pydantic_settings import BaseSettings

    import credit_risk

    found = {}
    for module in pkgutil.walk_packages(credit_risk.__path__, "credit_risk."):
        if module.name.startswith("credit_risk.dashboard.static"):
            continue
        imported = importlib.import_module(module.name)
        for value in vars(imported).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseSettings)
                and value is not BaseSettings
            ):
                found[value.__qualname__] = value.__module__
    assert {"Settings", "AnomalySettings", "ModelSettings", "AlertSettings"} <= set(found)
    assert all(module.startswith("credit_risk.settings") for module in found.values()), found
