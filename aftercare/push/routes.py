"""Push subscriptions (the caller's devices), the VAPID public key, and the caller's notification
inbox with its read state."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, delete, get, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from aftercare.auth.access import Access
from aftercare.auth.principal import Principal
from aftercare.clock import Clock
from aftercare.http import check_calendar_bounds
from aftercare.pagination import DEFAULT_LIMIT, MAX_LIMIT
from aftercare.push import schemas, service
from aftercare.push.runtime import PushRuntime


class PushController(Controller):
    path = "/v1/push"
    tags = ["push"]

    @get("/vapid-public-key", operation_id="getVapidPublicKey", opt={"access": Access.PUBLIC})
    async def get_vapid_public_key(self, push: PushRuntime) -> schemas.VapidPublicKey:
        return schemas.VapidPublicKey(public_key=push.public_key)

    @post("/subscriptions", operation_id="createPushSubscription", opt={"access": Access.SIGNED_IN})
    async def create_subscription(
        self,
        data: schemas.SubscriptionCreate,
        db_session: AsyncSession,
        principal: Principal,
        push: PushRuntime,
        clock: Clock,
    ) -> schemas.SubscriptionCreated:
        return await service.subscribe(
            db_session, principal, data, allowed_origins=push.allowed_origins, now=clock.now()
        )

    @get("/subscriptions", operation_id="listMyPushSubscriptions", opt={"access": Access.SIGNED_IN})
    async def list_subscriptions(
        self,
        db_session: AsyncSession,
        principal: Principal,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> schemas.DevicePage:
        return await service.list_subscriptions(db_session, principal, limit=limit, cursor=cursor)

    @delete(
        "/subscriptions/{subscription_id:uuid}",
        operation_id="deletePushSubscription",
        opt={"access": Access.SIGNED_IN},
    )
    async def delete_subscription(
        self, subscription_id: UUID, db_session: AsyncSession, principal: Principal, clock: Clock
    ) -> None:
        await service.unsubscribe(db_session, principal, subscription_id, now=clock.now())


class InboxController(Controller):
    path = "/v1/me/notifications"
    tags = ["push"]

    @get("/", operation_id="listMyNotifications", opt={"access": Access.SIGNED_IN})
    async def list_notifications(
        self,
        db_session: AsyncSession,
        principal: Principal,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
        unread: bool = Parameter(default=False, description="true: only notifications not read yet"),
    ) -> schemas.NotificationPage:
        return await service.list_notifications(
            db_session, principal, limit=limit, cursor=cursor, unread=unread
        )

    @post(
        "/{notification_id:uuid}/read",
        operation_id="markMyNotificationRead",
        status_code=200,
        opt={"access": Access.SIGNED_IN},
    )
    async def mark_read(
        self, notification_id: UUID, db_session: AsyncSession, principal: Principal, clock: Clock
    ) -> schemas.NotificationRead:
        return await service.mark_read(db_session, principal, notification_id, now=clock.now())

    @post("/read", operation_id="markMyNotificationsRead", status_code=200, opt={"access": Access.SIGNED_IN})
    async def mark_all_read(
        self, data: schemas.MarkRead, db_session: AsyncSession, principal: Principal, clock: Clock
    ) -> schemas.NotificationsRead:
        check_calendar_bounds(before=data.before)
        return await service.mark_all_read(db_session, principal, before=data.before, now=clock.now())
