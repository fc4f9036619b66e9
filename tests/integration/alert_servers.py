"""Real local alert receivers: an SMTP server (aiosmtpd) and a Slack-style webhook endpoint.

Alerts are tested end to end against real sockets, not mocked hooks, so the Airflow connection
strings (TLS switches, webhook URL building) are exercised exactly as in production. The
fixtures are exposed to every test under ``tests/integration`` by its ``conftest.py``:

- ``smtp_server``: ``.host``, ``.port``, ``.messages`` (``RecordedMail``, in arrival order);
- ``webhook_receiver``: ``.url``, ``.port``, ``.payloads`` (parsed JSON bodies), ``.status``
  (set it to make the receiver answer with an error);
- ``alert_channels``: both, plus the environment that points ``credit_risk.alerts`` at them.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller

LOCALHOST = "127.0.0.1"
ALERT_RECIPIENTS = ("oncall@example.com", "risk-team@example.com")
ALERT_SENDER = "airflow@example.com"
SLACK_WEBHOOK_TOKEN = "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
"""The path part of a real incoming-webhook URL (``hooks.slack.com/services/<token>``)."""


def free_port() -> int:
    """A port nothing listens on right now (also used to make a channel unreachable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOCALHOST, 0))
        return probe.getsockname()[1]


@dataclass
class RecordedMail:
    """One message the SMTP server accepted."""

    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        """All text parts, decoded (the SMTP hook base64-encodes the HTML body)."""
        return "\n".join(
            part.get_content()
            for part in self.message.walk()
            if part.get_content_maintype() == "text"
        )


class _RecordingHandler:
    """aiosmtpd handler that keeps every accepted message."""

    def __init__(self, messages: list[RecordedMail]):
        self.messages = messages

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(
            RecordedMail(
                sender=envelope.mail_from,
                recipients=list(envelope.rcpt_tos),
                message=message,  # type: ignore[arg-type]
            )
        )
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    """A running local SMTP server without TLS or authentication."""

    host: str
    port: int
    messages: list[RecordedMail] = field(default_factory=list)


@dataclass
class WebhookReceiver:
    """A running local HTTP server recording POSTed JSON, answering ``status``."""

    host: str
    port: int
    payloads: list[Any] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    status: int = 200

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on a free local port, recording the messages it accepts."""
    with running_smtp_server() as server:
        yield server


@contextlib.contextmanager
def running_smtp_server() -> Iterator[SmtpServer]:
    """``smtp_server`` for any scope (a module's Airflow stack sends its alerts there)."""
    messages: list[RecordedMail] = []
    # aiosmtpd cannot listen on port 0 (it connects to its own port to check it is up), so
    # take a free port and retry in the unlikely case another process grabs it first.
    for attempt in range(5):
        port = free_port()
        controller = Controller(_RecordingHandler(messages), hostname=LOCALHOST, port=port)
        try:
            controller.start()
            break
        except (OSError, RuntimeError):
            if attempt == 4:
                raise
    try:
        yield SmtpServer(host=LOCALHOST, port=port, messages=messages)
    finally:
        controller.stop()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A real HTTP server on a free local port, recording each POST's JSON body."""
    receiver = WebhookReceiver(host=LOCALHOST, port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.paths.append(self.path)
            receiver.payloads.append(json.loads(body or b"null"))
            answer = b"ok" if receiver.status == 200 else b"invalid_payload"
            self.send_response(receiver.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest output clean

    server = ThreadingHTTPServer((LOCALHOST, 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def smtp_connection_uri(host: str, port: int) -> str:
    """An ``smtp`` connection for a plain local server.

    ``disable_ssl`` / ``disable_tls`` turn off SMTPS and STARTTLS; no login means no AUTH. The
    hook reads them with ``bool(extra)``, so any non-empty value (even ``"false"``) means true:
    omit an extra to keep its default.
    """
    return (
        f"smtp://{host}:{port}?disable_ssl=true&disable_tls=true"
        f"&from_email={quote(ALERT_SENDER)}&timeout=5&retry_limit=0"
    )


def slack_connection_json(host: str, port: int) -> str:
    """A ``slackwebhook`` connection posting to ``http://host:port/<token>``.

    The hook builds the URL as ``{schema or 'https'}://{host}/{password}`` and ignores the port
    field, so the port goes into ``host``. In production leave host and schema empty and put
    the token (``T.../B.../...``) or the full webhook URL in the password.
    """
    return json.dumps(
        {
            "conn_type": "slackwebhook",
            "host": f"{host}:{port}",
            "schema": "http",
            "password": SLACK_WEBHOOK_TOKEN,
            "extra": {"timeout": 5},
        }
    )


@dataclass
class AlertChannels:
    """Both receivers, reachable by ``credit_risk.alerts`` through the environment."""

    smtp: SmtpServer
    webhook: WebhookReceiver
    recipients: tuple[str, ...] = ALERT_RECIPIENTS


@pytest.fixture
def alert_channels(monkeypatch, smtp_server, webhook_receiver) -> AlertChannels:
    """Point the on-call alerts (email and Slack) at the local servers for one test."""
    monkeypatch.setenv("CREDIT_RISK_ALERT_EMAILS", ",".join(ALERT_RECIPIENTS))
    monkeypatch.setenv("CREDIT_RISK_ALERT_SMTP_CONN_ID", "smtp_default")
    monkeypatch.setenv("CREDIT_RISK_ALERT_SLACK_CONN_ID", "credit_risk_slack")
    monkeypatch.delenv("CREDIT_RISK_ALERT_FROM_EMAIL", raising=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT", smtp_connection_uri(smtp_server.host, smtp_server.port)
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_CREDIT_RISK_SLACK",
        slack_connection_json(webhook_receiver.host, webhook_receiver.port),
    )
    # slack_sdk reads HTTP(S)_PROXY itself and ignores NO_PROXY: a proxy would swallow the POST.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    return AlertChannels(smtp=smtp_server, webhook=webhook_receiver)
