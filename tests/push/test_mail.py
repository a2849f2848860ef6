"""Alert e-mail against a real SMTP server on loopback: what it says (an alert id, its severity and
the console link; nothing about the person), and a refusing or hanging relay as a failed attempt
within the bounded timeout."""

from __future__ import annotations

import time
import uuid

from aftercare.push.mail import MailMessage, MailSender
from tests.fakes.smtp_server import smtp_server

ALERT = uuid.UUID("0192f6a0-0000-7000-8000-00000000abcd")
MESSAGE = MailMessage(
    to="counselor@example.org",
    subject="New alert in Aftercare",
    body="Severity: critical. Open the console to review.",
    path=f"/console/alerts/{ALERT}",
)


def mailer(url: str, timeout: float = 5.0) -> MailSender:
    return MailSender(
        url, sender="aftercare@example.org", console_url="https://care.example.org", timeout=timeout
    )


async def test_an_alert_mail_arrives_with_the_id_severity_and_link_only() -> None:
    async with smtp_server() as server:
        result = await mailer(server.url).send(MESSAGE)
    assert (result.outcome, result.status) == ("delivered", 250)
    (mail,) = server.received
    assert mail.rcpt_tos == ["counselor@example.org"] and mail.mail_from == "aftercare@example.org"
    assert mail.message["Subject"] == "New alert in Aftercare"
    assert "Severity: critical" in mail.text
    assert f"https://care.example.org/console/alerts/{ALERT}" in mail.text


async def test_a_refusing_relay_is_a_failed_attempt_and_a_deferring_one_a_retry() -> None:
    async with smtp_server() as server:
        server.mode = "refuse"
        refused = await mailer(server.url).send(MESSAGE)
        server.mode = "defer"
        deferred = await mailer(server.url).send(MESSAGE)
    assert (refused.outcome, refused.status) == ("failed", 550)
    assert (deferred.outcome, deferred.status) == ("retry", 451)
    assert server.received == []


async def test_a_hanging_relay_is_cut_off_at_the_timeout() -> None:
    async with smtp_server() as server:
        server.mode = "hang"
        started = time.monotonic()
        result = await mailer(server.url, timeout=0.5).send(MESSAGE)
        took = time.monotonic() - started
    assert result.outcome == "retry" and "0.5 s" in (result.error or "")
    assert 0.4 <= took < 2.0


async def test_no_relay_listening_is_a_retry() -> None:
    async with smtp_server() as server:
        url = server.url
    result = await mailer(url, timeout=1.0).send(MESSAGE)
    assert result.outcome == "retry"
