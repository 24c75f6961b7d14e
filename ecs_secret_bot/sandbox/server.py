"""The sandbox itself: one aiohttp server on 127.0.0.1 answering KMS and ECS calls.

Owns the HTTP side (``POST /`` for both services, dispatched by ``x-acs-version``:
``2016-01-20`` is KMS, ``2014-05-26`` is ECS; ``/_sandbox/...`` control routes) and the
Python API tests and benchmarks drive (``Sandbox``). Never decides what an action
does: ``kms_api``/``kms_state`` and ``ecs`` do.

Regions: any region id is accepted. A KMS call's region comes from the header
``x-acs-region-id`` when present, else from a Host like ``kms.<region>.aliyuncs.com``,
else ``cn-hangzhou``; an ECS call names it with ``RegionId``.

Unknown version: 400 ``InvalidVersion``; unknown action: 404 ``InvalidAction.NotFound``;
no ``x-acs-action``: 400 ``MissingAction``; an unexpected exception: 500
``InternalFailure`` (logged with its RequestId).

    async with Sandbox(rotation_delay=0.05) as sb:
        client = Client(Config(access_key_id="sandbox", access_key_secret="sandbox-secret",
                               endpoint=sb.endpoint, protocol="http"))
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from ecs_secret_bot.sandbox.calls import CallLog
from ecs_secret_bot.sandbox.clock import Clock, OffsetClock
from ecs_secret_bot.sandbox.control import add_control_routes
from ecs_secret_bot.sandbox.ecs import INSTANCE_STATUSES, EcsState, Instance
from ecs_secret_bot.sandbox.errors import ApiError
from ecs_secret_bot.sandbox.faults import Faults
from ecs_secret_bot.sandbox.kms_api import KMS_ACTIONS, KmsApi
from ecs_secret_bot.sandbox.kms_state import KmsState, RotationEvent, Secret, loop_scheduler
from ecs_secret_bot.sandbox.params import Params
from ecs_secret_bot.sandbox.protocol import (
    DEFAULT_REGION,
    ECS_VERSION,
    KMS_VERSION,
    SignedRequest,
    Verifier,
    error_body,
    new_request_id,
    resolve_region,
)
from ecs_secret_bot.sandbox.seed import direct_ecs_secret, seed_demo

__all__ = ["DEFAULT_ACCESS_KEYS", "DEFAULT_ACCOUNT_ID", "DEFAULT_REGION", "Sandbox"]

DEFAULT_ACCESS_KEYS: Mapping[str, str] = {"sandbox": "sandbox-secret"}
DEFAULT_ACCOUNT_ID = "1234567890123456"
ECS_ACTIONS = ("DescribeCloudAssistantStatus", "DescribeInstances")
_logger = logging.getLogger(__name__)


class Sandbox:
    """An emulated KMS + ECS endpoint and the handles to steer it."""

    def __init__(
        self,
        *,
        access_keys: Mapping[str, str] | None = None,
        seed: bool = True,
        rotation_delay: float = 0.05,
        refuse_custom_values: bool = False,
        clock: Clock | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
    ) -> None:
        self._offset_clock: OffsetClock | None = None
        if clock is None:
            self._offset_clock = OffsetClock()
            clock = self._offset_clock
        self.clock: Clock = clock
        self.verifier = Verifier(DEFAULT_ACCESS_KEYS if access_keys is None else access_keys)
        self.faults = Faults()
        self.calls = CallLog()
        self.ecs = EcsState(self.clock)
        self.kms = KmsState(
            clock=self.clock, ecs=self.ecs, rotation_delay=rotation_delay, scheduler=loop_scheduler
        )
        self.kms.refuse_custom_values = refuse_custom_values
        self.account_id = account_id
        self._kms_api = KmsApi(self.kms, account_id=account_id)
        self._runner: web.AppRunner | None = None
        self.port = 0
        if seed:
            seed_demo(self)

    # -- life cycle -------------------------------------------------------------------

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1:``port`` (0 picks a free port; see ``port``)."""
        if self._runner is not None:
            raise RuntimeError("the sandbox is already running")
        app = web.Application()
        app.router.add_route("*", "/", self._handle)
        add_control_routes(app, self)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening and cancel the rotations still in flight."""
        self.kms.cancel_timers()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def endpoint(self) -> str:
        """Return ``127.0.0.1:PORT``, the SDK ``Config(endpoint=...)`` value."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Return ``http://127.0.0.1:PORT``."""
        return f"http://{self.endpoint}"

    @property
    def access_keys(self) -> dict[str, str]:
        """Return the accepted AccessKey pairs (ID to secret); mutable."""
        return self.verifier.access_keys

    # -- settings and time ---------------------------------------------------------------

    @property
    def refuse_custom_values(self) -> bool:
        """Whether PutSecretValue on an ECS secret is refused (400 InvalidParameter)."""
        return self.kms.refuse_custom_values

    @refuse_custom_values.setter
    def refuse_custom_values(self, value: bool) -> None:
        self.kms.refuse_custom_values = value

    @property
    def rotation_delay(self) -> float:
        """Seconds of real time a rotation takes to reach the instance."""
        return self.kms.rotation_delay

    @rotation_delay.setter
    def rotation_delay(self, value: float) -> None:
        self.kms.rotation_delay = value

    def now(self) -> datetime:
        """Return the sandbox time."""
        return self.clock()

    def advance(self, delta: timedelta) -> datetime:
        """Move the built-in clock forward by ``delta`` and apply what became due."""
        if self._offset_clock is None:
            raise RuntimeError("this sandbox uses an injected clock; move that clock instead")
        now = self._offset_clock.advance(delta)
        self.kms.sweep()
        return now

    # -- ECS ---------------------------------------------------------------------------

    def add_instance(
        self,
        region: str,
        instance_id: str,
        *,
        name: str,
        status: str = "Running",
        os_type: str = "linux",
        cloud_assistant_online: bool = True,
        tags: Mapping[str, str] | None = None,
    ) -> Instance:
        """Add an ECS instance."""
        return self.ecs.add(
            Instance(
                instance_id=instance_id,
                name=name,
                region=region,
                status=status,
                os_type=os_type,
                cloud_assistant_online=cloud_assistant_online,
                tags=dict(tags or {}),
            )
        )

    def remove_instance(self, region: str, instance_id: str) -> None:
        """Release an instance, as the console would; its secrets' rotations then fail."""
        self.ecs.remove(region, instance_id)

    def set_instance_status(self, region: str, instance_id: str, status: str) -> None:
        """Change an instance's status (Running, Stopped, ...)."""
        if status not in INSTANCE_STATUSES:
            raise ValueError(f"status must be one of {', '.join(INSTANCE_STATUSES)}")
        self.ecs.require(region, instance_id).status = status

    def set_cloud_assistant(self, region: str, instance_id: str, online: bool) -> None:
        """Bring an instance's Cloud Assistant agent online or offline."""
        self.ecs.require(region, instance_id).cloud_assistant_online = online

    # -- KMS ---------------------------------------------------------------------------

    def add_ecs_secret(
        self,
        region: str,
        name: str,
        *,
        instance_id: str,
        user_name: str = "root",
        sub_type: str = "Password",
        secret_data: Mapping[str, str] | None = None,
        version_id: str = "v1",
        rotation_interval: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Store an ECS secret directly (no call counted); return its full name."""
        secret = direct_ecs_secret(
            self,
            region,
            name,
            instance_id=instance_id,
            user_name=user_name,
            sub_type=sub_type,
            secret_data=secret_data,
            version_id=version_id,
            rotation_interval=rotation_interval,
            description=description,
            tags=tags,
        )
        return secret.name

    def restore_out_of_band(self, region: str, name: str) -> None:
        """Cancel a planned deletion as the console would (no call counted)."""
        self.kms.sweep()
        secret = self._secret(region, name)
        if secret.planned_delete is None:
            raise ValueError(f"secret {secret.name!r} is not scheduled for deletion")
        self.kms.restore(secret)

    def delete_out_of_band(
        self,
        region: str,
        name: str,
        *,
        planned: datetime | timedelta | None = None,
        force: bool = False,
    ) -> None:
        """Delete as the console would: at once (``force``) or at ``planned`` (default 30d)."""
        self.kms.sweep()
        secret = self._secret(region, name)
        if force:
            self.kms.remove(region, secret.name)
            return
        if planned is None:
            planned = timedelta(days=30)
        when = self.clock() + planned if isinstance(planned, timedelta) else planned
        self.kms.schedule_deletion(secret, when)

    def rotation_failure(self, region: str, name: str) -> tuple[str, str] | None:
        """Return ``(errorCode, errorMessage)`` of the secret's failed rotation, or None."""
        self.kms.sweep()
        failure = self._secret(region, name).failure
        return (failure.code, failure.message) if failure else None

    def rotation_in_progress(self, region: str, name: str) -> bool:
        """Return whether a change of the secret is still being pushed to its instance."""
        self.kms.sweep()
        return self._secret(region, name).pending_version is not None

    @property
    def events(self) -> list[RotationEvent]:
        """Return the CloudMonitor-like rotation events, oldest first."""
        return list(self.kms.events)

    def _secret(self, region: str, name: str) -> Secret:
        secret = self.kms.find(region, name) or self.kms.find(region, "acs/ecs/" + name)
        if secret is None:
            raise LookupError(f"no secret {name!r} in region {region!r}")
        return secret

    # -- HTTP ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = _headers(request)
        query = {key: request.query[key] for key in request.query}
        params = dict(query)
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        version = headers.get("x-acs-version", "")
        action = headers.get("x-acs-action", "")
        product = "Ecs" if version == ECS_VERSION else "Kms"
        region = resolve_region(product, headers, params)
        request_id = new_request_id()
        try:
            _check_action(version, action)
            self.calls.record(action, region)
            caller = self.verifier.verify(
                SignedRequest(request.method, request.path, query, headers, body)
            )
            outcome = self.faults.take(action)
            if outcome.delay:
                await asyncio.sleep(outcome.delay)
            if outcome.drop:
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=500)
            if outcome.error is not None:
                raise outcome.error
            if product == "Kms":
                result = await self._kms_api.call(action, region, Params(params), caller=caller)
            else:
                result = self._ecs_call(action, Params(params))
        except ApiError as error:
            reply = error_body(error, request_id=request_id, product=product, region=region)
            return _json(reply, status=error.status, request_id=request_id)
        except Exception:
            _logger.exception("sandbox: %s failed (RequestId %s)", action, request_id)
            failure = ApiError(500, "InternalFailure", "The sandbox failed unexpectedly.")
            reply = error_body(failure, request_id=request_id, product=product, region=region)
            return _json(reply, status=500, request_id=request_id)
        return _json({"RequestId": request_id, **result}, status=200, request_id=request_id)

    def _ecs_call(self, action: str, params: Params) -> dict[str, Any]:
        region = params.required("RegionId")
        self.kms.sweep()
        if action == "DescribeInstances":
            return self.ecs.describe_instances(region, params)
        return self.ecs.describe_cloud_assistant_status(region, params)


def _headers(request: web.Request) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name in {key.lower() for key in request.headers}:
        values = [value.strip() for value in request.headers.getall(name)]
        headers[name] = values[0] if len(values) == 1 else ",".join(sorted(values))
    return headers


def _check_action(version: str, action: str) -> None:
    if not action:
        raise ApiError(400, "MissingAction", "Action is mandatory for this request (x-acs-action).")
    actions = {KMS_VERSION: KMS_ACTIONS, ECS_VERSION: ECS_ACTIONS}.get(version)
    if actions is None:
        raise ApiError(
            400,
            "InvalidVersion",
            f"Specified parameter Version {version!r} is not valid; the sandbox serves KMS "
            f"{KMS_VERSION} and ECS {ECS_VERSION}.",
        )
    if action not in actions:
        raise ApiError(
            404,
            "InvalidAction.NotFound",
            f"Specified api {action!r} is not found in version {version}; the sandbox serves "
            f"{', '.join(actions)}.",
        )


def _json(body: Mapping[str, Any], *, status: int, request_id: str) -> web.Response:
    return web.Response(
        text=json.dumps(body),
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers={"x-acs-request-id": request_id},
    )
