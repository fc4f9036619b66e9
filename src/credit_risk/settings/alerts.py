"""Where alerts go and when a refresh is late (``CREDIT_RISK_ALERT_*``,
``CREDIT_RISK_REFRESH_DEADLINE_HOURS``); the notifier is ``credit_risk.alerts``."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EMAILS_ENV = "CREDIT_RISK_ALERT_EMAILS"
DEADLINE_HOURS_ENV = "CREDIT_RISK_REFRESH_DEADLINE_HOURS"

DEFAULT_SMTP_CONN_ID = "smtp_default"
DEFAULT_SLACK_CONN_ID = "credit_risk_slack"
DEFAULT_FROM_EMAIL = "credit-risk-alerts@localhost"
DEFAULT_DEADLINE_HOURS = 72.0


class AlertSettings(BaseSettings):
    """Where alerts go: the ``CREDIT_RISK_ALERT_*`` variables (see the module); empty values
    mean the default."""

    model_config = SettingsConfigDict(
        env_prefix="CREDIT_RISK_ALERT_",
        env_ignore_empty=True,
        extra="ignore",
        str_strip_whitespace=True,
    )

    emails: str = Field(default="", description="Recipients, separated by commas or semicolons.")
    smtp_conn_id: str = DEFAULT_SMTP_CONN_ID
    from_email: str = Field(default="", description="Sender; else the connection's from_email.")
    slack_conn_id: str = DEFAULT_SLACK_CONN_ID

    @field_validator("smtp_conn_id", "slack_conn_id", mode="before")
    @classmethod
    def _blank_means_default(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and not value.strip():
            return cls.model_fields[info.field_name].default
        return value

    @property
    def recipients(self) -> list[str]:
        """The email recipients, blanks dropped (empty: email is off)."""
        addresses = self.emails.replace(";", ",").split(",")
        return [address.strip() for address in addresses if address.strip()]


class DeadlineSettings(BaseSettings):
    """``CREDIT_RISK_REFRESH_DEADLINE_HOURS``, apart from ``AlertSettings`` so that a typo in
    it (which fails the DAG's import, on purpose) can never stop an alert from being sent."""

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore")

    refresh_deadline_hours: float = Field(
        default=DEFAULT_DEADLINE_HOURS,
        ge=0,
        validation_alias=DEADLINE_HOURS_ENV,  # the name errors show, for the operator
        description="Hours after a month closes by which it must be published; 0: off.",
    )
