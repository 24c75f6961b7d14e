"""The sandbox itself: one aiohttp server (on 127.0.0.1 by default) answering KMS and ECS calls.

Owns the HTTP side (``POST /`` for every service, dispatched by ``x-acs-version``:
``2016-01-20`` is KMS, ``2014-05-26`` is ECS, ``2015-04-01`` is STS; each call's caller
and RAM permission checked by ``access`` after its signature; ``/_sandbox/...`` control
routes) and the
life cycle of ``Sandbox``, the ``world.World`` tests and benchmarks drive, put behind a
port. Never decides what an action does: ``kms_api``/``kms_state`` and ``ecs`` do.

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
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from ecs_secret_bot.sandbox.clock import Clock
from ecs_secret_bot.sandbox.control import add_control_routes
from ecs_secret_bot.sandbox.errors import ApiError
from ecs_secret_bot.sandbox.kms_api import KMS_ACTIONS, KmsApi
from ecs_secret_bot.sandbox.params import Params
from ecs_secret_bot.sandbox.protocol import (
    DEFAULT_REGION,
    ECS_VERSION,
    KMS_VERSION,
    SignedRequest,
    error_body,
    new_request_id,
    resolve_region,
)
from ecs_secret_bot.sandbox.ram import RamPolicy
from ecs_secret_bot.sandbox.seed import seed_demo
from ecs_secret_bot.sandbox.sts import STS_ACTIONS, STS_VERSION
from ecs_secret_bot.sandbox.world import DEFAULT_ACCESS_KEYS, DEFAULT_ACCOUNT_ID, World

__all__ = ["DEFAULT_ACCESS_KEYS", "DEFAULT_ACCOUNT_ID", "DEFAULT_REGION", "Sandbox"]

ECS_ACTIONS = ("DescribeCloudAssistantStatus", "DescribeInstances")
IDLE_TIMEOUT = 15.0
"""Seconds a connection may stay idle, or take to send a request head, before it is closed."""
_logger = logging.getLogger(__name__)


class Sandbox(World):
    """An emulated KMS + ECS endpoint: a ``World`` served over HTTP on 127.0.0.1."""

    def __init__(
        self,
        *,
        access_keys: Mapping[str, str] | None = None,
        seed: bool = True,
        rotation_delay: float = 0.05,
        refuse_custom_values: bool = False,
        clock: Clock | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        ram_policy: RamPolicy | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            access_keys=access_keys,
            rotation_delay=rotation_delay,
            refuse_custom_values=refuse_custom_values,
            clock=clock,
            account_id=account_id,
            ram_policy=ram_policy,
        )
        self._kms_api = KmsApi(self.kms, account_id=account_id, keys=self.keys)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.host = "127.0.0.1"
        if seed:
            seed_demo(self)

    # -- life cycle -------------------------------------------------------------------

    async def start(self, port: int = 0, *, host: str = "127.0.0.1", grace: float = 10.0) -> None:
        """Listen on ``host``:``port`` (0 picks a free port; see ``port``).

        A connection idle for ``IDLE_TIMEOUT`` seconds (or that has not sent a whole request
        head by then) is closed; ``stop`` gives calls in progress ``grace`` seconds.
        """
        if self._runner is not None:
            raise RuntimeError("the sandbox is already running")
        app = web.Application()
        app.router.add_route("*", "/", self._handle)
        add_control_routes(app, self, endpoint=lambda: self.endpoint)
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            keepalive_timeout=IDLE_TIMEOUT,
            shutdown_timeout=max(grace, 0.01),
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host

    async def stop(self) -> None:
        """Stop listening, give calls in progress the grace period, cancel rotations in flight."""
        self.kms.cancel_timers()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def endpoint(self) -> str:
        """Return ``127.0.0.1:PORT`` (or the host listened on), the SDK's ``endpoint``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """Return ``http://127.0.0.1:PORT`` (or the host listened on)."""
        return f"http://{self.endpoint}"

    # -- HTTP ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        response = await self._answer(request)
        agent = request.headers.get("user-agent", "")
        text = response.text if isinstance(response, web.Response) else None
        self.calls.answered(request.headers.get("x-acs-action", ""), text or "", user_agent=agent)
        return response

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = _headers(request)
        query = {key: request.query[key] for key in request.query}
        params = dict(query)
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        version = headers.get("x-acs-version", "")
        action = headers.get("x-acs-action", "")
        product = {ECS_VERSION: "Ecs", STS_VERSION: "Sts"}.get(version, "Kms")
        region = resolve_region(product, headers, params)
        request_id = new_request_id()
        try:
            _check_action(version, action)
            self.calls.record(action, region, user_agent=headers.get("user-agent", ""))
            key_id = self.verifier.verify(
                SignedRequest(request.method, request.path, query, headers, body)
            )
            caller = self.access.caller(key_id, headers.get("x-acs-security-token", ""))
            self.access.authorize(
                caller,
                product=product,
                action=action,
                region=region,
                params=Params(params),
                key_of=self._key_of,
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
                result = await self._kms_api.call(action, region, Params(params), caller=key_id)
            elif product == "Sts":
                result = self.sts.assume_role(Params(params))
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

    def _key_of(self, region: str, name: str) -> str | None:
        secret = self.kms.find(region, name)
        if secret is not None:
            return secret.encryption_key_id
        return self.keys.key_named(region, name)  # Encrypt, Decrypt, GenerateDataKey

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
    actions = {KMS_VERSION: KMS_ACTIONS, ECS_VERSION: ECS_ACTIONS, STS_VERSION: STS_ACTIONS}.get(
        version
    )
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
