"""On-call alerts for the monthly refresh: what broke, for which month, and where to look.

A failed task and a month that misses its refresh deadline (``credit_risk.deadline``, checked
by the watchdog DAG) reach the same people through the
same channels (email over the SMTP provider, Slack over an incoming webhook) with the same
wording, so on-call never has to learn two formats. The message is built by a pure function
(``build_alert``) so its content is unit-tested without Airflow running; sending is kept apart
(``send_alert``) and never raises, because a crashing callback would hide the failure it
reports.

Configuration (``AlertSettings``) is read from the environment when an alert is sent (not at
import), so an operator can change recipients without a DAG re-parse:

- ``CREDIT_RISK_ALERT_EMAILS``: comma-separated recipients; empty disables email.
- ``CREDIT_RISK_ALERT_SMTP_CONN_ID``: SMTP connection (default ``smtp_default``).
- ``CREDIT_RISK_ALERT_FROM_EMAIL``: sender; default the connection's ``from_email`` extra.
- ``CREDIT_RISK_ALERT_SLACK_CONN_ID``: ``slackwebhook`` connection (default
  ``credit_risk_slack``); Slack is enabled when it exists.
- ``CREDIT_RISK_REFRESH_DEADLINE_HOURS``: refresh deadline (default 72), read by each check.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseNotifier

from credit_risk.months import month_of
from credit_risk.quality.errors import FailedExpectation, ValidationFailedError
from credit_risk.settings.alerts import (  # noqa: F401 (importable from here as before)
    DEADLINE_HOURS_ENV,
    DEFAULT_DEADLINE_HOURS,
    DEFAULT_FROM_EMAIL,
    DEFAULT_SLACK_CONN_ID,
    DEFAULT_SMTP_CONN_ID,
    EMAILS_ENV,
    AlertSettings,
    DeadlineSettings,
)

log = logging.getLogger(__name__)

MISSED_DEADLINE = "MissedDeadline"
"""``Alert.error_type`` of a run that did not succeed in time (there is no exception)."""

_MAX_ERROR_CHARS = 2000
"""An exception message longer than this is cut: alerts point to the log, they do not copy it."""
_SLACK_SECTION_CHARS = 2900
"""Slack refuses section text over 3000 characters; the full text stays in the ``text`` field."""


@dataclass(frozen=True)
class Alert:
    """Everything on-call needs about one failure, ready to send to any channel."""

    subject: str
    """One line: DAG, month and what went wrong (email subject, Slack header)."""
    text: str
    """Plain multi-line body; the same text goes to every channel and to the log."""
    dag_id: str
    run_id: str
    month: str
    """The month the run covers (``YYYY-MM``), or ``"unknown"`` when the context lacks it."""
    task_id: str | None
    """The failed task; ``None`` for a missed deadline (no single task is to blame)."""
    try_number: int | None
    error_type: str
    """The root error's class name (``ValidationFailedError``, ``ExtractRefusedError``, ...)."""
    suite: str | None = None
    failures: list[FailedExpectation] = field(default_factory=list)
    data_docs: str | None = None
    log_url: str | None = None


# --------------------------------------------------------------------------------------------
# Building the alert (pure: plain dicts and namespaces work as contexts)
# --------------------------------------------------------------------------------------------


def _value(obj: Any, name: str) -> Any:
    """``obj.name`` or ``obj[name]``: task contexts hold objects, deadline contexts JSON dicts."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    try:
        return getattr(obj, name, None)
    except Exception:  # a lazy property needing a live Airflow must not break the alert
        return None


def _as_datetime(value: Any) -> dt.datetime | None:
    """Deadline contexts carry ISO strings where task contexts carry datetimes."""
    if value is None or isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def find_validation_error(error: BaseException | str | None) -> ValidationFailedError | None:
    """The ``ValidationFailedError`` behind a task failure, if there is one.

    Validation tasks raise ``AirflowFailException`` (so Airflow does not retry bad data) from the
    ``ValidationFailedError``; the details on-call needs live on the cause, so the chain
    (``__cause__``, then ``__context__``) is followed.
    """
    seen: set[int] = set()
    current = error if isinstance(error, BaseException) else None
    while current is not None and id(current) not in seen:
        if isinstance(current, ValidationFailedError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _root_cause(error: BaseException) -> BaseException:
    """The innermost explicit cause: ``ExtractRefusedError`` says more than its wrapper."""
    seen = {id(error)}
    while error.__cause__ is not None and id(error.__cause__) not in seen:
        error = error.__cause__
        seen.add(id(error))
    return error


def _short(message: str) -> str:
    message = message.strip()
    if len(message) <= _MAX_ERROR_CHARS:
        return message
    return message[:_MAX_ERROR_CHARS] + " [...] (see the task log)"


DASHBOARD_URL_PREFIX = "/credit-risk"
"""Where the Airflow plugin mounts the dashboard, which serves the Data Docs site."""


def airflow_url(path: str) -> str | None:
    """``path`` on the Airflow API server, from ``[api] base_url`` (as Airflow's own log_url);
    None without an Airflow configuration."""
    try:
        from airflow.sdk.configuration import conf

        base_url = conf.get("api", "base_url", fallback="http://localhost:8080/")
    except Exception:
        return None
    return f"{base_url.rstrip('/')}{path}"


def data_docs_link(path: str | None) -> str | None:
    """A Data Docs page as the URL on-call can open: the dashboard inside Airflow serves the
    site (``<api base_url>/credit-risk/data-docs/...``). A page outside the site stays a path."""
    from credit_risk.quality.data_docs import site_path

    relative = site_path(path)
    if relative is None:
        return path
    return airflow_url(f"{DASHBOARD_URL_PREFIX}/data-docs/{quote(relative)}") or path


def _run_url(dag_id: str, run_id: str) -> str | None:
    """The run's page in the Airflow UI."""
    return airflow_url(f"/dags/{dag_id}/runs/{quote(run_id)}")


def build_alert(context: Mapping[str, Any]) -> Alert:
    """Describe a failure from an Airflow callback context.

    Task callbacks (``on_failure_callback``) get the task context: ``dag``, ``dag_run``,
    ``ti``, ``run_id``, ``data_interval_start``, ``params``, ``exception`` (the raised
    exception). The month is the run's ``month`` param when set, else its data interval's.

    Args:
        context: The callback context; plain dicts and simple namespaces work, so the text is
            testable without Airflow.

    Returns:
        The alert; the month comes from the validation error when there is one, otherwise from
        the run's data interval start (each run covers the month its interval starts in).
    """
    dag_run = context.get("dag_run")
    ti = context.get("ti") or context.get("task_instance")
    dag_id = str(
        _value(context.get("dag"), "dag_id")
        or _value(dag_run, "dag_id")
        or _value(ti, "dag_id")
        or "unknown DAG"
    )
    run_id = str(
        context.get("run_id")
        or _value(dag_run, "run_id")
        or _value(dag_run, "dag_run_id")
        or _value(ti, "run_id")
        or "unknown run"
    )
    interval_start = _as_datetime(
        context.get("data_interval_start") or _value(dag_run, "data_interval_start")
    )
    params = context.get("params") or {}
    chosen = params.get("month") if isinstance(params, Mapping) else None
    month = chosen or (month_of(interval_start) if interval_start else "unknown")

    task_id = _value(ti, "task_id")
    try_number = _value(ti, "try_number")
    log_url = _value(ti, "log_url")
    error = context.get("exception")
    validation = find_validation_error(error)
    if validation is not None and validation.month:
        month = validation.month

    lines = [f"DAG: {dag_id}", f"Run: {run_id}", f"Month: {month}"]
    lines.append(f"Task: {task_id or 'unknown'} (try {try_number or '?'})")
    if validation is not None:
        error_type = type(validation).__name__
        subject = (
            f"[credit-risk] {dag_id} {month}: validation suite {validation.suite!r} failed "
            f"({len(validation.failures)} of {validation.evaluated} expectations)"
        )
        lines.append(
            f"Suite: {validation.suite} ({len(validation.failures)} of {validation.evaluated} "
            "expectations failed)"
        )
        lines.append("Failed expectations:")
        for failure in validation.failures:
            where = f" on {failure.column}" if failure.column else ""
            lines.append(f"  - {failure.expectation}{where}")
            lines.append(f"      observed: {failure.observed}")
            if failure.description:
                lines.append(f"      guards against: {failure.description}")
        lines.append(f"Data Docs: {data_docs_link(validation.data_docs) or 'not built'}")
    elif isinstance(error, BaseException):
        root = _root_cause(error)
        error_type = type(root).__name__
        subject = f"[credit-risk] {dag_id} {month}: task {task_id} failed ({error_type})"
        lines.append(f"Error: {type(error).__name__}: {_short(str(error))}")
        if root is not error:
            lines.append(f"Caused by: {error_type}: {_short(str(root))}")
    else:
        error_type = "UnknownError" if error is None else "Error"
        subject = f"[credit-risk] {dag_id} {month}: task {task_id} failed"
        lines.append(f"Error: {_short(str(error)) if error else 'no exception in the context'}")
    lines.append(f"Log: {log_url or 'not available'}")
    return Alert(
        subject=subject,
        text="\n".join(lines),
        dag_id=dag_id,
        run_id=run_id,
        month=month,
        task_id=task_id,
        try_number=try_number,
        error_type=error_type,
        suite=validation.suite if validation else None,
        failures=list(validation.failures) if validation else [],
        data_docs=data_docs_link(validation.data_docs) if validation else None,
        log_url=log_url,
    )


# --------------------------------------------------------------------------------------------
# Rendering for each channel
# --------------------------------------------------------------------------------------------


def _slack_escape(text: str) -> str:
    """Slack parses ``&``, ``<`` and ``>`` as markup; observed values may contain them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(alert: Alert) -> dict[str, Any]:
    """The incoming-webhook JSON: ``text`` (full, for notifications) and Block Kit blocks."""
    body = _slack_escape(alert.text)
    if len(body) > _SLACK_SECTION_CHARS:
        body = body[:_SLACK_SECTION_CHARS] + "\n[...] (full text in the email and the log)"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": alert.subject[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"```{body}```"}},
    ]
    if alert.log_url:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"<{alert.log_url}|Open in Airflow>"}],
            }
        )
    return {
        "text": f"{_slack_escape(alert.subject)}\n{_slack_escape(alert.text)}",
        "blocks": blocks,
    }


def email_html(alert: Alert) -> str:
    """The email body: the plain text kept as is (``<pre>``), escaped; the log as a link."""
    link = ""
    if alert.log_url:
        url = html.escape(alert.log_url, quote=True)
        link = f'<p><a href="{url}">Open in Airflow</a></p>'
    return f"<pre>{html.escape(alert.text)}</pre>{link}"


# --------------------------------------------------------------------------------------------
# Channels and sending
# --------------------------------------------------------------------------------------------


def _connection_exists(conn_id: str) -> bool:
    """Whether Airflow knows the connection (env vars, secrets backends, metadata DB).

    Anything but a clean "not found" counts as existing, so the send is tried and its error is
    logged with the alert, rather than the channel being skipped without a trace.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    except Exception:
        log.warning("could not look up connection %r; trying it anyway", conn_id, exc_info=True)
    return True


def send_email(alert: Alert, conn_id: str, recipients: Sequence[str], from_email: str = "") -> None:
    """Send through the SMTP provider's hook.

    The hook, not ``SmtpNotifier``: the notifier renders subject and body as Jinja templates,
    and an observed value containing ``{{`` would break (or inject into) the alert.
    """
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=conn_id) as hook:
        sender = from_email or hook.from_email or DEFAULT_FROM_EMAIL
        hook.send_email_smtp(
            to=list(recipients),
            from_email=sender,
            subject=alert.subject,
            html_content=email_html(alert),
        )


def send_slack(alert: Alert, conn_id: str) -> None:
    """Post to a Slack incoming webhook through the Slack provider (raises on non-200)."""
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    payload = slack_payload(alert)
    SlackWebhookHook(slack_webhook_conn_id=conn_id).send(
        text=payload["text"], blocks=payload["blocks"]
    )


def configured_channels(
    settings: AlertSettings | None = None,
) -> dict[str, Callable[[Alert], None]]:
    """The channels that can be tried now, by name; each takes the alert and may raise."""
    settings = settings or AlertSettings()
    channels: dict[str, Callable[[Alert], None]] = {}
    recipients = settings.recipients
    email_conn, sender = settings.smtp_conn_id, settings.from_email
    if recipients:
        if _connection_exists(email_conn):
            channels["email"] = lambda alert: send_email(alert, email_conn, recipients, sender)
        else:
            log.warning(
                "%s is set but SMTP connection %r does not exist: no email alert",
                EMAILS_ENV,
                email_conn,
            )
    slack_conn = settings.slack_conn_id
    if _connection_exists(slack_conn):
        channels["slack"] = lambda alert: send_slack(alert, slack_conn)
    return channels


def send_alert(alert: Alert) -> list[str]:
    """Send to every configured channel; never raises.

    A channel that fails is logged at ERROR with the full alert and the others are still tried;
    with no channel at all the alert is logged at ERROR, so it is never silently dropped.

    Returns:
        The names of the channels that accepted the alert.
    """
    delivered: list[str] = []
    try:
        settings = AlertSettings()
        channels = configured_channels(settings)
    except Exception:
        log.exception("could not determine the alert channels")
        settings, channels = AlertSettings.model_construct(), {}
    if not channels:
        log.error(
            "no on-call alert channel configured (set %s and the SMTP connection %r, or the "
            "Slack connection %r); the alert was NOT sent:\n%s\n%s",
            EMAILS_ENV,
            settings.smtp_conn_id,
            settings.slack_conn_id,
            alert.subject,
            alert.text,
        )
        return delivered
    for name, send in channels.items():
        try:
            send(alert)
        except Exception as error:
            log.error(
                "on-call alert via %s failed (%s: %s); the alert was:\n%s\n%s",
                name,
                type(error).__name__,
                error,
                alert.subject,
                alert.text,
            )
        else:
            delivered.append(name)
            log.info("on-call alert sent via %s: %s", name, alert.subject)
    return delivered


def _fallback_alert(context: Mapping[str, Any], problem: BaseException) -> Alert:
    """A minimal alert when the context could not be read: a vague page beats none."""
    return Alert(
        subject="[credit-risk] a credit-risk run failed (alert details unavailable)",
        text=f"The alert could not be built ({type(problem).__name__}: {problem}).\n"
        f"Context keys: {sorted(map(str, context))}\nException: {context.get('exception')!r}",
        dag_id="unknown DAG",
        run_id="unknown run",
        month="unknown",
        task_id=None,
        try_number=None,
        error_type=type(problem).__name__,
    )


def _build_or_fallback(context: Mapping[str, Any]) -> Alert:
    try:
        return build_alert(context)
    except Exception as problem:
        log.exception("could not build the on-call alert; sending a minimal one")
        return _fallback_alert(context, problem)


class OnCallNotifier(BaseNotifier):
    """``on_failure_callback`` that pages on-call through every configured channel.

    Use it in ``default_args`` so each task's final failure (after its retries) is reported with
    its exception; a DAG-level callback has no exception and runs in the DAG processor.
    No template fields: alert text carries data values and must not be rendered as Jinja.
    """

    template_fields: Sequence[str] = ()

    def notify(self, context: Any) -> None:
        """Build and send the alert; any error is logged, never raised into the task runner.

        A month on-call rejected in the approval step is not paged again: the approval request
        was the page, and the rejection is on-call's own decision."""
        error = context.get("exception")
        if isinstance(error, BaseException) and type(error).__name__ == "HITLRejectException":
            log.warning("rejected by on-call, no page: %s", error)
            return
        try:
            send_alert(_build_or_fallback(context))
        except Exception:  # send_alert does not raise; this guards against the unforeseen
            log.exception("on-call alert failed")


AWAITING_APPROVAL = "AwaitingApproval"
"""``Alert.error_type`` of a month waiting for on-call's decision on a distribution shift."""


def build_approval_request(context: Mapping[str, Any], verdict: Mapping[str, Any]) -> Alert:
    """The page asking on-call to approve or reject a month's distribution shift.

    Args:
        context: The approval task's context (``task`` is the approval operator).
        verdict: The published gate's verdict: ``month``, ``failures``, ``data_docs``.
    """
    task = context.get("task")
    ti = context.get("ti") or context.get("task_instance")
    dag_id = str(_value(ti, "dag_id") or _value(context.get("dag"), "dag_id") or "unknown DAG")
    run_id = str(context.get("run_id") or _value(ti, "run_id") or "unknown run")
    month = str(verdict.get("month") or "unknown")
    link = None
    try:
        link = task.generate_link_to_ui_from_context(context=context)
    except Exception:  # no [api] base_url: the run's page still leads there
        link = _run_url(dag_id, run_id)
    timeout = getattr(task, "response_timeout", None)
    lines = [
        f"DAG: {dag_id}",
        f"Run: {run_id}",
        f"Month: {month}",
        f"Task: {_value(ti, 'task_id') or 'unknown'}",
        "Only distribution checks failed (every row is valid): approve the month if the shift "
        "is real, reject it if the extract is wrong, with a reason.",
        f"Decide here: {link or 'the run in the Airflow UI, Required Actions'}",
    ]
    if timeout:
        lines.append(f"No decision within {timeout} rejects the month.")
    lines.append(str(verdict.get("failures") or ""))
    lines.append(f"Data Docs: {data_docs_link(verdict.get('data_docs')) or 'not built'}")
    return Alert(
        subject=f"[credit-risk] {dag_id} {month}: distribution shift awaiting your approval",
        text="\n".join(lines),
        dag_id=dag_id,
        run_id=run_id,
        month=month,
        task_id=_value(ti, "task_id"),
        try_number=_value(ti, "try_number"),
        error_type=AWAITING_APPROVAL,
        suite="published",
        data_docs=data_docs_link(verdict.get("data_docs")),
        log_url=link,
    )


class ApprovalRequestNotifier(BaseNotifier):
    """Page on-call, through the same channels as failures, when an approval step starts
    waiting (the ``notifiers`` of ``credit_risk.approval.ShiftApprovalOperator``)."""

    template_fields: Sequence[str] = ()

    def notify(self, context: Any) -> None:
        """Send the request; any error is logged, never raised into the task runner."""
        try:
            task = context["task"]
            verdict = context["ti"].xcom_pull(task_ids=task.gate_task_id) or {}
            send_alert(build_approval_request(context, verdict))
        except Exception:
            log.exception("on-call approval request failed")


# --------------------------------------------------------------------------------------------
# Refresh deadline
# --------------------------------------------------------------------------------------------


def refresh_deadline() -> dt.timedelta | None:
    """``CREDIT_RISK_REFRESH_DEADLINE_HOURS`` (default 72) as a timedelta; ``0`` turns it off.

    Read by the watchdog's check (``credit_risk.deadline``) each time it runs.

    Raises:
        ValueError: the value is negative or not a number: the check fails and says so,
            instead of silently never alerting.
    """
    hours = DeadlineSettings().refresh_deadline_hours
    return dt.timedelta(hours=hours) if hours > 0 else None
