"""Settings of the anomaly detectors (``CREDIT_RISK_ANOMALY_*``); the detectors are in
``credit_risk.analytics.anomalies``."""

from __future__ import annotations

import hashlib
import json

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MODEL_FAMILY = "sa3"
"""Bump when a detector changes meaning: it prefixes every model_version."""


class AnomalySettings(BaseSettings):
    """Settings of the detectors, each read from ``CREDIT_RISK_ANOMALY_<FIELD>`` when the
    settings are made (so a job sees the values set when it runs); keyword arguments win.

    Attributes:
        min_history: Prior months a customer needs before any detector may flag them.
        baseline_months: Prior months in the trailing baseline (fewer early in the history).
        target_alert_rate: Largest share of a month's eligible customer-months flagged: the
            highest scores first (the analysts' capacity, not a fit to one data source).
        min_score: Smallest score ever flagged, in standard-normal units of the month's
            strongest evidence after the correction for five detectors (2.9: a probability of
            about 1 in 2,700 for the strongest detector). Chosen on the main generator (seeds
            11-13, 2,000 x 12), as the smallest score, in steps of 0.05, at which its flags are
            80 % right; never on the hold-out source.
        shrinkage_months: Weight, in months, of the portfolio's typical volatility in a
            customer's: with three prior months the customer's own spread is mostly noise.
        shrinkage_purchases: The same for the spread of purchase sizes, in purchases.
        count_prior_months: Weight, in months, of the portfolio's rate of small online charges
            and cash advances in a customer's usual rate.
        constrained_utilization_pct: A prior month that closed with the card this full
            (utilization, percent of the limit) was held back by the limit: it is left out of
            the customer's usual month, so the month after a payment or a higher limit is not
            a spike against it.
        spend_offset: Money added to a month's spend before taking logs, so a near-empty month
            does not make the next ordinary one look infinitely larger.
        min_log_spread: Smallest spread of log spend or ticket size (0.1: about 10 %).
        min_excess_of_usual: ``spend_spike`` needs spend above the seasonal usual month by this
            share of it (1.0: at least twice the usual month).
        min_excess_amount: ... and by this much money.
        min_purchase_amount: ``large_purchase`` and ``new_category`` need the purchase to be
            at least this much money, whatever the customer's usual.
        burst_window_days: Days within which several large purchases count as a splurge.
        large_purchase_usual_share: ``large_purchase`` needs the purchase to be this share of
            the customer's usual month.
        new_category_usual_share: ``new_category`` needs the purchase to be this share of the
            customer's usual month ...
        new_category_min_purchases: ... and the customer to have made this many purchases in
            the baseline window (a category is "new" only against a real history).
        small_amount: A card-not-present purchase up to this amount counts as small.
        small_online_min_count: Small online charges in the month from which
            ``small_online_burst`` may fire.
        cash_min_count: Cash advances in the month from which ``cash_advance_jump`` may fire ...
        cash_usual_share: ... if they add up to this share of the customer's usual month.
    """

    model_config = SettingsConfigDict(
        env_prefix="CREDIT_RISK_ANOMALY_", env_ignore_empty=True, extra="ignore", frozen=True
    )

    min_history: int = 3
    baseline_months: int = 12
    target_alert_rate: float = 0.03
    min_score: float = 2.9
    shrinkage_months: float = 4.0
    shrinkage_purchases: float = 20.0
    count_prior_months: float = 2.0
    constrained_utilization_pct: float = 95.0
    spend_offset: float = 25.0
    min_log_spread: float = 0.10
    min_excess_of_usual: float = 1.0
    min_excess_amount: float = 100.0
    min_purchase_amount: float = 100.0
    burst_window_days: int = 3
    large_purchase_usual_share: float = 0.5
    new_category_usual_share: float = 0.2
    new_category_min_purchases: int = 10
    small_amount: float = 20.0
    small_online_min_count: int = 8
    cash_min_count: int = 3
    cash_usual_share: float = 0.2

    @model_validator(mode="after")
    def _check(self) -> AnomalySettings:
        """Refuse settings under which a detector could not work."""
        if not 1 <= self.min_history <= self.baseline_months:
            raise ValueError(
                "anomaly min_history must be between 1 and baseline_months "
                f"(got {self.min_history} and {self.baseline_months})"
            )
        if not 0 < self.target_alert_rate <= 1:
            raise ValueError("anomaly target_alert_rate must be in (0, 1]")
        if self.spend_offset <= 0 or self.min_log_spread <= 0:
            raise ValueError(
                "anomaly spend_offset and min_log_spread must be > 0 (they guard logs)"
            )
        negative = [name for name in type(self).model_fields if getattr(self, name) < 0]
        if negative:
            raise ValueError(f"anomaly settings must be >= 0: {', '.join(negative)}")
        return self

    @property
    def model_version(self) -> str:
        """``sa3-<hash of the settings>``: which settings produced a row."""
        digest = hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()
        return f"{MODEL_FAMILY}-{digest[:10]}"

    def alert_rate_bounds(self, customer_months: int) -> tuple[float, float]:
        """The flag rate a month of ``customer_months`` eligible rows may show: none at all up
        to the target, plus one row for rounding up."""
        return 0.0, min(1.0, self.target_alert_rate + 1 / max(customer_months, 1))
