"""Operator settings, read once from ``AFTERCARE_*`` environment variables into one object.

The CLI and tests build a ``Settings`` explicitly (``Settings.from_env(overrides)``); nothing reads
the environment at import time, so a test never has to patch ``os.environ`` before importing.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from aftercare.errors import BadRequest

ASYNC_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
# An HS256 key shorter than its 256-bit output is weaker than it needs to be (RFC 7518 3.2); a
# generated secret is 64 characters.
MIN_JWT_SECRET_LENGTH = 32


class ConfigError(BadRequest):
    """A setting that cannot work (a sync driver URL, a bad number): refused at start-up."""


def _origin(value: str) -> str:
    """One entry of AFTERCARE_CORS_ORIGINS: an exact ``scheme://host[:port]``, as browsers send it."""
    origin = value.strip().rstrip("/").lower()
    if not re.fullmatch(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?", origin):
        raise ConfigError(
            f"AFTERCARE_CORS_ORIGINS lists exact origins such as https://console.example.org, not {value!r}: "
            "no wildcard, no path"
        )
    return origin


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(".aftercare")
    database_url: str = ""
    auto_migrate: bool | None = None  # None: on for SQLite, off for PostgreSQL
    jwt_secret: str = ""
    # Secrets rotated out: access tokens and enrollment codes made with them stay good (until they
    # expire) while new ones use ``jwt_secret``. Keep one here for the longest life of what it
    # signed: enrollment codes, 14 days.
    jwt_previous_secrets: tuple[str, ...] = ()
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    enrollment_code_days: int = 14
    cors_origins: tuple[str, ...] = ()
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8000
    metrics_port: int | None = None  # a second port serving only /metrics, without a token
    scheduler: bool = True
    sweep_interval_seconds: float = 5.0
    redis_url: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    push_allowed_origins: str | None = None
    vapid_private_key: str | None = None
    vapid_subject: str = "mailto:aftercare-operator@example.org"
    crisis_line: str = "988"
    sqlite_synchronous: str = "FULL"
    # Sign-in and enrollment limits (auth/ratelimit.py has the policy): failures an account may
    # have before an address that failed for it waits between tries, the longest such wait, the
    # hard limit per address, and the window every count lives for.
    login_failures_per_account: int = 5
    login_max_delay_seconds: int = 60
    login_failures_per_address: int = 30
    login_window_seconds: int = 900
    enroll_failures_per_prefix: int = 5
    enroll_failures_per_address: int = 100
    stream_keepalive_seconds: float = 15.0
    # How often each process reads the alert event log. On PostgreSQL a NOTIFY wakes it at once, so
    # this only bounds the delay when a wake-up is lost; on SQLite it is the stream's latency.
    stream_poll_seconds: float = 0.5
    # From a request's first byte (or the connection's opening) until its body is read, at most.
    request_read_timeout_seconds: float = 15.0
    # Alert e-mail to staff who opted in (push/mail.py): the relay, the sender, a bound on one send,
    # and where the console is, for the link in the message. No relay: no e-mail channel.
    smtp_url: str | None = None
    smtp_from: str = "aftercare@localhost"
    smtp_timeout_seconds: float = 10.0
    public_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(f"AFTERCARE_{name}")
            return value if value not in (None, "") else None

        def flag(name: str) -> bool | None:
            value = get(name)
            if value is None:
                return None
            if value.lower() in ("1", "on", "true", "yes"):
                return True
            if value.lower() in ("0", "off", "false", "no"):
                return False
            raise ConfigError(f"AFTERCARE_{name} must be on or off, not {value!r}")

        def number(name: str, default: float) -> float:
            value = get(name)
            try:
                return default if value is None else float(value)
            except ValueError as exc:
                raise ConfigError(f"AFTERCARE_{name} must be a number, not {value!r}") from exc

        def interval(name: str, default: float) -> float:
            value = number(name, default)
            if value <= 0:  # zero would spin the stream's loops
                raise ConfigError(f"AFTERCARE_{name} must be more than 0 seconds, not {value!r}")
            return value

        def listing(name: str) -> tuple[str, ...]:
            value = get(name)
            return tuple(p.strip() for p in value.split(",") if p.strip()) if value else ()

        jwt_secret = get("JWT_SECRET") or ""
        previous = listing("JWT_PREVIOUS_SECRETS")
        for name, value in (("JWT_SECRET", jwt_secret), *(("JWT_PREVIOUS_SECRETS", p) for p in previous)):
            if value and len(value) < MIN_JWT_SECRET_LENGTH:
                raise ConfigError(
                    f"AFTERCARE_{name} must be at least {MIN_JWT_SECRET_LENGTH} characters "
                    "(`aftercare secrets` prints a strong one)"
                )
        if previous and not jwt_secret:
            raise ConfigError(
                "AFTERCARE_JWT_PREVIOUS_SECRETS needs AFTERCARE_JWT_SECRET, the secret that replaced them"
            )
        base = cls()
        settings = cls(
            data_dir=Path(get("DATA_DIR") or base.data_dir),
            database_url=get("DATABASE_URL") or "",
            auto_migrate=flag("AUTO_MIGRATE"),
            jwt_secret=jwt_secret,
            jwt_previous_secrets=previous,
            access_token_minutes=int(number("ACCESS_TOKEN_MINUTES", base.access_token_minutes)),
            refresh_token_days=int(number("REFRESH_TOKEN_DAYS", base.refresh_token_days)),
            cors_origins=tuple(_origin(value) for value in listing("CORS_ORIGINS")),
            log_level=(get("LOG_LEVEL") or base.log_level).upper(),
            host=get("HOST") or base.host,
            port=int(number("PORT", base.port)),
            metrics_port=int(number("METRICS_PORT", 0)) or None,
            scheduler=flag("SCHEDULER") is not False,
            sweep_interval_seconds=number("SWEEP_INTERVAL_SECONDS", base.sweep_interval_seconds),
            redis_url=get("REDIS_URL"),
            trusted_proxies=listing("TRUSTED_PROXIES"),
            push_allowed_origins=get("PUSH_ALLOWED_ORIGINS"),
            vapid_private_key=get("VAPID_PRIVATE_KEY"),
            vapid_subject=get("VAPID_SUBJECT") or base.vapid_subject,
            crisis_line=get("CRISIS_LINE") or base.crisis_line,
            sqlite_synchronous=(get("SQLITE_SYNCHRONOUS") or base.sqlite_synchronous).upper(),
            stream_keepalive_seconds=interval("STREAM_KEEPALIVE_SECONDS", base.stream_keepalive_seconds),
            stream_poll_seconds=interval("STREAM_POLL_SECONDS", base.stream_poll_seconds),
            request_read_timeout_seconds=interval(
                "REQUEST_READ_TIMEOUT_SECONDS", base.request_read_timeout_seconds
            ),
            smtp_url=get("SMTP_URL"),
            smtp_from=get("SMTP_FROM") or base.smtp_from,
            smtp_timeout_seconds=interval("SMTP_TIMEOUT_SECONDS", base.smtp_timeout_seconds),
            public_url=(get("PUBLIC_URL") or "").rstrip("/"),
        )
        return replace(settings, **overrides)  # type: ignore[arg-type]

    # -- derived values -------------------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data dir; sync drivers refused."""
        url = self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'aftercare.db').resolve()}"
        if url.startswith("postgres://"):
            url = "postgresql://" + url.removeprefix("postgres://")
        if not url.startswith(ASYNC_DRIVERS):
            raise ConfigError(
                f"AFTERCARE_DATABASE_URL must use an async driver ({' or '.join(ASYNC_DRIVERS)}://...); "
                f"got {url.split('://', 1)[0]}://"
            )
        return url

    @property
    def email_enabled(self) -> bool:
        """Whether alert e-mail can be sent: an SMTP relay is configured."""
        return self.smtp_url is not None

    @property
    def console_url(self) -> str:
        """Where links in e-mail point: ``AFTERCARE_PUBLIC_URL``, else this server's own address."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def jwt_secrets(self) -> tuple[str, ...]:
        """Every secret a token or enrollment code may have been made with, the current one first."""
        return (self.jwt_secret, *self.jwt_previous_secrets)

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def should_auto_migrate(self) -> bool:
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def require_shared_secrets(self) -> None:
        """On PostgreSQL every server and worker must share one JWT secret (tokens, enrollment
        codes) and one VAPID key (browsers accept pushes only with the key they subscribed with).
        Generated per data directory they would silently differ, so ``aftercare serve``, ``worker``
        and ``seed-demo`` refuse to start without both configured. SQLite has one process (or one
        machine's data dir) and keeps generating them into the data dir."""
        if self.is_sqlite:
            return
        missing = [
            name
            for name, value in (
                ("AFTERCARE_JWT_SECRET", self.jwt_secret),
                ("AFTERCARE_VAPID_PRIVATE_KEY", self.vapid_private_key),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                f"on PostgreSQL set {' and '.join(missing)}: every server and worker sharing the database "
                "must use the same JWT secret and VAPID key, or they reject each other's tokens and sign "
                "pushes with a key browsers did not subscribe with. `aftercare secrets` prints both for "
                "a data directory: run it with the AFTERCARE_DATA_DIR this service used until now to keep "
                "its sign-ins, enrollment codes and push subscriptions, or anywhere for new ones."
            )

    def with_secrets(self) -> Settings:
        """This settings object with a JWT secret: the configured one, or one generated into the
        data dir on first start (mode 0600) so restarts keep tokens valid."""
        if self.jwt_secret:
            return self
        path = self.ensure_data_dir() / "jwt_secret"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return replace(self, jwt_secret=path.read_text().strip())
