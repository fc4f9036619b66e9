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
