"""The generated dataset the DAG cuts monthly drops from is named by its parameters and by the
generator's code, so a cached dataset never outlives a change to either."""

from __future__ import annotations

import re

import pytest

from credit_risk.pipeline import GenerationSpec


@pytest.mark.parametrize("profile", ["legacy", "realistic"])
def test_a_dataset_is_named_by_its_parameters_and_its_generators_code(profile):
    spec = GenerationSpec(profile, customers=100, months=12, start="2024-01", seed=42)
    name = spec.name
    assert re.fullmatch(rf"{profile}-c100-m12-2024-01-s42-g[0-9a-f]{{8}}", name)
    assert GenerationSpec(profile, 101, 12, "2024-01", 42).name != name
    assert spec.name == name  # the same code and parameters: the same name


def test_the_two_generators_have_different_code_versions():
    legacy = GenerationSpec("legacy", 100, 12, "2024-01", 42).name
    realistic = GenerationSpec("realistic", 100, 12, "2024-01", 42).name
    assert legacy.rsplit("-g", 1)[1] != realistic.rsplit("-g", 1)[1]


def test_the_density_names_its_own_dataset_and_leaves_the_default_name_alone():
    default = GenerationSpec("realistic", 100, 12, "2024-01", 42)
    dense = GenerationSpec("realistic", 100, 12, "2024-01", 42, transactions_per_month=17)
    assert "-t" not in default.name  # datasets cached before the setting keep their names
    assert dense.name.startswith("realistic-c100-m12-2024-01-s42-t17-g")
    assert GenerationSpec("realistic", 100, 12, "2024-01", 42, 17.5).name != dense.name


def test_the_density_setting_reaches_the_spec(monkeypatch):
    from credit_risk.settings import Settings

    monkeypatch.setenv("CREDIT_RISK_GENERATE_TRANSACTIONS_PER_MONTH", "17")
    assert GenerationSpec.from_settings(Settings()).transactions_per_month == 17.0
    monkeypatch.setenv("CREDIT_RISK_GENERATE_TRANSACTIONS_PER_MONTH", "0")
    with pytest.raises(ValueError, match="greater than 0"):
        Settings()


def test_the_legacy_profile_refuses_a_density(tmp_path):
    from credit_risk.pipeline import generate

    with pytest.raises(ValueError, match="legacy profile has a fixed density"):
        generate(
            "legacy",
            tmp_path,
            customers=10,
            months=1,
            start="2024-01",
            seed=1,
            transactions_per_month=17,
        )


def test_the_generated_dataset_follows_its_density(tmp_path):
    import pandas as pd

    from credit_risk.pipeline import generated_dataset

    def transactions(density: float | None) -> int:
        spec = GenerationSpec("realistic", 200, 2, "2024-01", 42, density)
        folder = generated_dataset(spec, tmp_path)
        assert folder.name == spec.name
        return len(pd.read_csv(folder / "transactions.csv", usecols=["transaction_id"]))

    default, dense = transactions(None), transactions(17)
    assert 2.5 < dense / default < 3.6  # 17 / 5.5 = 3.1 attempted; declines differ a little
