"""Application assembly: settings, database, routes, error mapping, operations endpoints.

``create_app(settings, clock=...)`` is the only way an app is made, by the CLI and by tests alike;
nothing here reads the environment or the wall clock directly.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.plugins.prometheus import PrometheusConfig
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aftercare import __version__
from aftercare.alerts.routes import AlertController
from aftercare.alerts.stream import AlertEventHub, StreamConfig
from aftercare.audit.routes import AuditController
from aftercare.auth.guards import enforce_access, provide_principal
from aftercare.auth.ratelimit import EnrollPolicy, SignInPolicy, make_failure_store
from aftercare.auth.routes import AuthController, MeController, StreamTicketController
from aftercare.auth.service import LoginLimits
from aftercare.checkins.routes import CheckinController
from aftercare.clock import Clock, SystemClock
from aftercare.config import Settings
from aftercare.console.routes import ConsoleController
from aftercare.db.engine import make_engine, make_session_factory
from aftercare.doses.routes import DoseController
from aftercare.errors import AftercareError
from aftercare.graduates.routes import GraduateController
from aftercare.health import HealthController
from aftercare.http import (
    JsonRequest,
    RequestContextMiddleware,
    add_security_headers,
    handle_aftercare_error,
    handle_http_exception,
    handle_internal_error,
    handle_validation,
)
from aftercare.logs import configure_logging
from aftercare.metrics import MetricsController
from aftercare.outreach.routes import OutreachController
from aftercare.personal_data.routes import DeletionRequestController, ErasureController, MyDataController
from aftercare.plans.routes import PlanController, PlanTemplateController
from aftercare.program.routes import (
    OnCallController,
    OnCallRotaController,
    ProgramRulesController,
    ResponseTimesController,
)
from aftercare.progress.routes import ProgressController
from aftercare.push.routes import InboxController, PushController
from aftercare.push.runtime import PushRuntime
from aftercare.scheduling.routes import ReminderController
from aftercare.staff.routes import StaffController
from aftercare.timeline.routes import TimelineController

MAX_BODY_BYTES = 64 * 1024


def route_handlers() -> Sequence[Any]:
    """Every controller of the API: the access-matrix test walks exactly this list."""
    return [
        HealthController,
        AuthController,
        MeController,
        StaffController,
        GraduateController,
        MetricsController,
        PlanController,
        PlanTemplateController,
        CheckinController,
        DoseController,
        AlertController,
        StreamTicketController,
        ProgramRulesController,
        ResponseTimesController,
        OnCallRotaController,
        OnCallController,
        ReminderController,
        ProgressController,
        PushController,
        InboxController,
        TimelineController,
        OutreachController,
        ConsoleController,
        AuditController,
        MyDataController,
        DeletionRequestController,
        ErasureController,
    ]


def _cors(settings: Settings) -> CORSConfig | None:
    """Cross-origin calls only from the configured origins (``AFTERCARE_CORS_ORIGINS``), none by
    default. Bearer tokens, never cookies: no credentials mode. The console may send what the API
    reads and read what it answers with (ETag for If-Match, Retry-After, the request id)."""
    if not settings.cors_origins:
        return None
    return CORSConfig(
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "If-Match",
            "If-None-Match",
            "Last-Event-ID",
            "X-Request-ID",
        ],
        expose_headers=["ETag", "Retry-After", "X-Request-ID", "Location"],
        allow_credentials=False,
        max_age=600,
    )


def _start_sweeper(settings: Settings, session_factory: Any, clock: Clock, push: PushRuntime) -> Any:
    from aftercare.flows.worker import Sweeper  # only processes that sweep load the sweeper

    sweeper = Sweeper(
        session_factory,
        clock,
        interval_seconds=settings.sweep_interval_seconds,
        sender=push.sender,
        mailer=push.mailer,
    )
    sweeper.start()
    return sweeper


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: AsyncEngine | None = None,
    on_startup: Sequence[Callable[[Litestar], Any]] = (),
) -> Litestar:
    settings = settings.with_secrets()
    configure_logging(settings.log_level)
    clock = clock or SystemClock()
    owns_engine = engine is None
    engine = engine or make_engine(settings)
    session_factory = make_session_factory(engine)
    login_limits = LoginLimits(
        store=make_failure_store(settings.redis_url),
        sign_in=SignInPolicy(
            free_failures=settings.login_failures_per_account,
            max_delay_seconds=settings.login_max_delay_seconds,
            per_address=settings.login_failures_per_address,
            window_seconds=settings.login_window_seconds,
        ),
        enrollment=EnrollPolicy(
            per_prefix=settings.enroll_failures_per_prefix,
            per_address=settings.enroll_failures_per_address,
            window_seconds=settings.login_window_seconds,
        ),
    )
    push = PushRuntime.from_settings(settings)
    alert_hub = AlertEventHub(session_factory, StreamConfig.from_settings(settings), clock)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Started here because APScheduler's AsyncIOScheduler needs the running loop.
        # The push client first: the sweeper delivers what it queues through it.
        await push.start()
        sweeper = _start_sweeper(settings, session_factory, clock, push) if settings.scheduler else None
        await alert_hub.start()
        try:
            yield
        finally:
            await alert_hub.stop()
            if sweeper is not None:
                await sweeper.stop()
            await push.close()
            await login_limits.store.close()
            if owns_engine:
                await engine.dispose()

    async def provide_db_session() -> AsyncIterator[AsyncSession]:
        async with session_factory() as session:
            yield session

    def provide(value: Any) -> Provide:
        return Provide(lambda: value, use_cache=True, sync_to_thread=False)

    app = Litestar(
        route_handlers=list(route_handlers()),
        guards=[enforce_access],
        dependencies={
            "db_session": Provide(provide_db_session),
            "session_factory": provide(session_factory),
            "settings": provide(settings),
            "clock": provide(clock),
            "login_limits": provide(login_limits),
            "push": provide(push),
            "alert_hub": provide(alert_hub),
            "principal": Provide(provide_principal, sync_to_thread=False),
        },
        exception_handlers={
            AftercareError: handle_aftercare_error,
            ValidationException: handle_validation,
            HTTPException: handle_http_exception,
            Exception: handle_internal_error,
        },
        middleware=[
            RequestContextMiddleware,
            PrometheusConfig(app_name="aftercare", group_path=True).middleware,
        ],
        cors_config=_cors(settings),
        before_send=[add_security_headers],
        openapi_config=OpenAPIConfig(
            title="Aftercare API",
            version=__version__,
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
        ),
        request_max_body_size=MAX_BODY_BYTES,
        request_class=JsonRequest,
        lifespan=[lifespan],
        on_startup=list(on_startup),
        signature_types=[Request],
        debug=False,
        logging_config=None,  # logs.configure_logging owns the format (JSON)
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.engine = engine
    app.state.session_factory = session_factory
    app.state.push = push
    logging.getLogger("aftercare").debug("app created")
    return app
