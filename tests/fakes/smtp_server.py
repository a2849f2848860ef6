"""A real SMTP server on loopback (aiosmtpd) that records what it received, or refuses, or hangs.

It runs on the test's own event loop, so a test can switch its behaviour between sends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any, Literal

from aiosmtpd.smtp import SMTP

Mode = Literal["accept", "refuse", "defer", "hang"]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: Message

    @property
    def text(self) -> str:
        payload = self.message.get_payload(decode=True)
        return payload.decode() if isinstance(payload, bytes) else str(payload)


@dataclass
class SmtpServer:
    host: str = "127.0.0.1"
    port: int = 0
    mode: Mode = "accept"
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.mode == "refuse":
            return "550 5.1.1 mailbox unavailable"
        if self.mode == "defer":
            return "451 4.3.0 try again later"
        if self.mode == "hang":
            await asyncio.sleep(3600)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            Received(
                envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.original_content)
            )
        )
        return "250 Message accepted for delivery"


@asynccontextmanager
async def smtp_server() -> AsyncIterator[SmtpServer]:
    recorder = SmtpServer()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(recorder, hostname="aftercare.test"), recorder.host, 0)
    recorder.port = server.sockets[0].getsockname()[1]
    try:
        yield recorder
    finally:
        server.close()
        server.abort_clients() if hasattr(server, "abort_clients") else None
