"""Alert e-mail: the second channel for staff, through the operator's SMTP relay (``aiosmtplib``).

A mailbox is no more private than a lock screen: the message says what the push says (an alert
exists, its severity, its id) and links to the console, which fetches the rest over the
authenticated API. No name, no note, no clinical value.

``AFTERCARE_SMTP_URL`` names the relay: ``smtp://[user:password@]host[:port]`` (STARTTLS when the
server offers it; ``?starttls=require`` to insist) or ``smtps://...`` (TLS from the first byte, port
465 by default). Each send is bounded by ``AFTERCARE_SMTP_TIMEOUT_SECONDS`` as a whole (connect,
greeting, every command), so a relay that hangs costs one delivery slot that long and nothing more:
escalation never waits for a delivery (the sweep records levels in the database; deliveries are sent
apart). Outcomes, recorded like a push's (``push/service.py::record_results``)::

    delivered  250 to the end of DATA
    retry      4xx, timeout, refused or dropped connection
    failed     5xx (a refused recipient or sender): retrying cannot help
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import msgspec

from aftercare.push.webpush import SendResult

DEFAULT_TIMEOUT_SECONDS = 10.0


class MailMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One e-mail about an alert: to whom, and the notification's fixed texts and console path."""

    to: str
    subject: str
    body: str
    path: str | None


class MailSender:
    """Sends MailMessages through the relay at ``url``, each within ``timeout`` seconds."""

    def __init__(
        self, url: str, *, sender: str, console_url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("AFTERCARE_SMTP_URL must be smtp://host[:port] or smtps://host[:port]")
        self._implicit_tls = parts.scheme == "smtps"
        self._host = parts.hostname
        self._port = parts.port or (465 if self._implicit_tls else 25)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        starttls = parse_qs(parts.query).get("starttls", [""])[0]
        # None: STARTTLS if the server offers it (aiosmtplib's default); True: insist on it.
        self._start_tls: bool | None = True if starttls == "require" else None
        self._sender = sender
        self._console_url = console_url.rstrip("/")
        self._timeout = timeout

    @property
    def timeout(self) -> float:
        return self._timeout

    def compose(self, message: MailMessage) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self._sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        link = f"{self._console_url}{message.path}" if message.path else self._console_url
        mail.set_content(f"{message.body}\n\n{link}\n\nAftercare sends no details by e-mail.\n")
        return mail

    async def send(self, message: MailMessage) -> SendResult:
        try:
            async with asyncio.timeout(self._timeout):
                await aiosmtplib.send(
                    self.compose(message),
                    hostname=self._host,
                    port=self._port,
                    username=self._username,
                    password=self._password,
                    use_tls=self._implicit_tls,
                    start_tls=self._start_tls,
                    timeout=self._timeout,
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refusal.code for refusal in exc.recipients]
            code = codes[0] if codes else None
            transient = code is not None and 400 <= code < 500
            return SendResult(
                outcome="retry" if transient else "failed", status=code, error="recipient refused"
            )
        except aiosmtplib.SMTPResponseException as exc:
            transient = 400 <= exc.code < 500
            return SendResult(
                outcome="retry" if transient else "failed", status=exc.code, error=f"SMTP {exc.code}"
            )
        except (TimeoutError, aiosmtplib.SMTPTimeoutError):
            return SendResult(outcome="retry", error=f"no answer within {self._timeout:g} s")
        except (aiosmtplib.SMTPException, OSError) as exc:
            return SendResult(outcome="retry", error=type(exc).__name__)
        return SendResult(outcome="delivered", status=250)
