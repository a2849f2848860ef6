"""Operator settings, read once from ``AFTERCARE_*`` environment variables into one object.

The CLI and tests build a ``Settings`` explicitly (``Settings.from_env(overrides)``); nothing reads
the environment at import time, so a test never has to patch ``os.environ`` before importing.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from aftercare.errors import BadRequest

ASYNC_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class ConfigError(BadRequest):
    """A setting that cannot work (a sync driver URL, a bad number): refused at start-up."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(".aftercare")
    database_url: str = ""
    auto_migrate: bool | None = None  # None: on for SQLite, off for PostgreSQL
    jwt_secret: str = ""
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
    login_failures_per_account: int = 5
    login_failures_per_address: int = 30
    login_window_seconds: int = 900
    stream_keepalive_seconds: float = 15.0
    # How often each process reads the alert event log. On PostgreSQL a NOTIFY wakes it at once, so
    # this only bounds the delay when a wake-up is lost; on SQLite it is the stream's latency.
    stream_poll_seconds: float = 0.5
    # From a request's first byte (or the connection's opening) until its body is read, at most.
    request_read_timeout_seconds: float = 15.0

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

        base = cls()
        settings = cls(
            data_dir=Path(get("DATA_DIR") or base.data_dir),
            database_url=get("DATABASE_URL") or "",
            auto_migrate=flag("AUTO_MIGRATE"),
            jwt_secret=get("JWT_SECRET") or "",
            access_token_minutes=int(number("ACCESS_TOKEN_MINUTES", base.access_token_minutes)),
            refresh_token_days=int(number("REFRESH_TOKEN_DAYS", base.refresh_token_days)),
            cors_origins=listing("CORS_ORIGINS"),
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
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def should_auto_migrate(self) -> bool:
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

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
