"""What a process needs to push, built once from Settings: the VAPID keys (generated into the data
dir on first start), the signer, the subscription allow-list, the one HTTP client, and the mailer
for alert e-mail when an SMTP relay is configured.

The keys and allow-list are ready when the app is made (routes need the public key at once); the
aiohttp session needs a running event loop, so ``start`` and ``close`` run in the app's lifespan
(or around a worker's loop).
"""

from __future__ import annotations

import aiohttp

from aftercare.config import Settings
from aftercare.push.endpoints import parse_allowed_origins
from aftercare.push.mail import MailSender
from aftercare.push.vapid import VapidKeys, VapidSigner, load_or_create
from aftercare.push.webpush import DEFAULT_TIMEOUT_SECONDS, PushSender, open_session


class PushRuntime:
    def __init__(
        self,
        keys: VapidKeys,
        signer: VapidSigner,
        allowed_origins: tuple[str, ...],
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        mailer: MailSender | None = None,
    ) -> None:
        self.keys = keys
        self.mailer = mailer  # alert e-mail to staff; None without an SMTP relay
        self.signer = signer
        self.allowed_origins = allowed_origins
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._sender: PushSender | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PushRuntime:
        """Raises ValueError for a bad VAPID key, subject or allow-list entry: a start-up error."""
        keys = load_or_create(settings.data_dir, settings.vapid_private_key)
        mailer = (
            MailSender(
                settings.smtp_url,
                sender=settings.smtp_from,
                console_url=settings.console_url,
                timeout=settings.smtp_timeout_seconds,
            )
            if settings.smtp_url
            else None
        )
        return cls(
            keys,
            VapidSigner(keys, settings.vapid_subject),
            parse_allowed_origins(settings.push_allowed_origins),
            mailer=mailer,
        )

    @property
    def public_key(self) -> str:
        return self.keys.public_key_b64

    @property
    def sender(self) -> PushSender:
        if self._sender is None:
            raise RuntimeError("PushRuntime.start() has not run (it needs the running event loop)")
        return self._sender

    async def start(self) -> None:
        if self._session is None:
            self._session = open_session()
            self._sender = PushSender(self._session, self.signer, timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = self._sender = None
