"""The sandbox itself: aiohttp servers (on 127.0.0.1 by default) answering KMS, ECS and STS,
one per region.

Owns the HTTP side (``POST /`` for every service, dispatched by ``x-acs-version``:
``2016-01-20`` is KMS, ``2014-05-26`` is ECS, ``2015-04-01`` is STS; each call's caller
and RAM permission checked by ``access`` after its signature; ``/_sandbox/...`` control
routes) and the life cycle of ``Sandbox``, the ``world.World`` tests and benchmarks drive,
put behind ports. Never decides what an action does: ``kms_api``/``kms_state`` and ``ecs``
do.

Regions are routed as Alibaba Cloud routes them: by the endpoint a call is sent to. Each
region the sandbox serves (``regions``; ``cn-hangzhou`` alone by default) has its own
listener, every service on it: the first region on ``start(port)``, the next ones on the
ports after it (all free ports with port 0); ``endpoint_of(region)`` says where (STS, a
global service, answers on any of them). No header and no Host name picks a region (the
real service ignores ``x-acs-region-id``). So a call sent to the wrong region's endpoint is
answered as that region would: KMS knows no secret of another region (404
``Forbidden.ResourceNotFound``), and ECS refuses a ``RegionId`` that is not its own with 400
``InvalidOperation.NotSupportedEndpoint`` (the code and message of real ECS answers;
``docs/alibaba-cloud.md`` says what is and is not documented about it).

Unknown version: 400 ``InvalidVersion``; unknown action: 404 ``InvalidApi.NotFound``;
no ``x-acs-action``: 400 ``MissingAction``; an unexpected exception: 500
``InternalFailure`` (logged with its RequestId). A fault injected on an ECS call answers
with ECS's codes (``Throttling``, ``InternalError``) rather than KMS's. The sources of
every code, and which are unverified, are in ``docs/alibaba-cloud.md``.

    async with Sandbox(regions=("cn-hangzhou", "cn-shanghai"), rotation_delay=0.05) as sb:
        client = Client(Config(access_key_id="sandbox", access_key_secret="sandbox-secret",
                               endpoint=sb.endpoint_of("cn-shanghai"), protocol="http"))
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from collections.abc import Mapping, Sequence
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
_REGION_ID = re.compile(r"^[a-z]{2,}(-[a-z0-9]+)+$")


class Sandbox(World):
    """An emulated KMS + ECS endpoint per region: a ``World`` served over HTTP on 127.0.0.1."""

    def __init__(
        self,
        *,
        regions: Sequence[str] = (DEFAULT_REGION,),
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
        if not regions or len(set(regions)) != len(regions):
            raise ValueError("regions must name at least one region, each once")
        for region in regions:
            if not _REGION_ID.match(region):
                raise ValueError(f'{region!r} is not a region id; write one like "cn-hangzhou"')
        self.regions: tuple[str, ...] = tuple(regions)
        """The regions served, each on its own listener; the first is the default one."""
        self._kms_api = KmsApi(self.kms, account_id=account_id, keys=self.keys)
        self._runners: list[web.AppRunner] = []
        self.ports: dict[str, int] = {}
        """The port of each region's listener, once started."""
        self.host = "127.0.0.1"
        if seed:
            seed_demo(self)

    # -- life cycle -------------------------------------------------------------------

    async def start(self, port: int = 0, *, host: str = "127.0.0.1", grace: float = 10.0) -> None:
        """Listen for each region on ``host``: the first on ``port``, the next on the ports after.

        With ``port`` 0 every region gets a free port (see ``ports``, ``endpoint_of``). A
        connection idle for ``IDLE_TIMEOUT`` seconds (or that has not sent a whole request
        head by then) is closed; ``stop`` gives calls in progress ``grace`` seconds.
        """
        if self._runners:
            raise RuntimeError("the sandbox is already running")
        try:
            for index, region in enumerate(self.regions):
                await self._listen(region, host, port + index if port else 0, grace)
        except OSError:
            await self.stop()
            raise
        self.host = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host

    async def _listen(self, region: str, host: str, port: int, grace: float) -> None:
        app = web.Application()
        app.router.add_route("*", "/", functools.partial(self._handle, region))
        add_control_routes(
            app, self, endpoints=lambda: {r: self.endpoint_of(r) for r in self.regions}
        )
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            keepalive_timeout=IDLE_TIMEOUT,
            shutdown_timeout=max(grace, 0.01),
        )
        await runner.setup()
        self._runners.append(runner)
        await web.TCPSite(runner, host, port).start()
        self.ports[region] = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening, give calls in progress the grace period, cancel rotations in flight."""
        self.kms.cancel_timers()
        runners, self._runners = self._runners, []
        self.ports = {}
        for runner in runners:
            await runner.cleanup()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """Return the port of the first (default) region, 0 before ``start``."""
        return self.ports.get(self.regions[0], 0)

    @property
    def endpoint(self) -> str:
        """Return ``127.0.0.1:PORT`` (or the host listened on) of the default region."""
        return self.endpoint_of(self.regions[0])

    @property
    def url(self) -> str:
        """Return ``http://127.0.0.1:PORT`` (or the host listened on) of the default region."""
        return self.url_of(self.regions[0])

    def endpoint_of(self, region: str) -> str:
        """Return ``HOST:PORT``, where ``region`` is served; raise LookupError if it is not."""
        if region not in self.regions:
            raise LookupError(f"the sandbox does not serve {region!r}; it serves {self.regions}")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.ports.get(region, 0)}"

    def url_of(self, region: str) -> str:
        """Return ``http://HOST:PORT``, where ``region`` is served."""
        return f"http://{self.endpoint_of(region)}"

    @property
    def endpoints(self) -> dict[str, str]:
        """Return the URL of each region served, default region first."""
        return {region: self.url_of(region) for region in self.regions}

    # -- HTTP ----------------------------------------------------------------------------

    async def _handle(self, region: str, request: web.Request) -> web.StreamResponse:
        """Answer a call sent to ``region``'s endpoint, and log the answer."""
        response = await self._answer(region, request)
        agent = request.headers.get("user-agent", "")
        text = response.text if isinstance(response, web.Response) else None
        self.calls.answered(request.headers.get("x-acs-action", ""), text or "", user_agent=agent)
        return response

    async def _answer(self, region: str, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = _headers(request)
        query = {key: request.query[key] for key in request.query}
        params = dict(query)
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        version = headers.get("x-acs-version", "")
        action = headers.get("x-acs-action", "")
        product = {ECS_VERSION: "Ecs", STS_VERSION: "Sts"}.get(version, "Kms")
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
                raise _in_terms_of(product, outcome.error)
            if product == "Kms" and not self.throttle.admit(region, action):
                raise ApiError(429, "Rejected.Throttling", "QPS Limit Exceeded")
            if product == "Kms":
                result = await self._kms_api.call(action, region, Params(params), caller=key_id)
            elif product == "Sts":
                result = self.sts.assume_role(Params(params))
            else:
                result = self._ecs_call(action, region, Params(params))
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

    def _ecs_call(self, action: str, region: str, params: Params) -> dict[str, Any]:
        if params.required("RegionId") != region:
            # What ECS answers when RegionId names another region than the endpoint's.
            raise ApiError(
                400,
                "InvalidOperation.NotSupportedEndpoint",
                "The specified endpoint can't operate this region. Please use API "
                "DescribeRegions to get the appropriate endpoint, or upgrade your SDK to "
                "latest version.",
            )
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
            "InvalidApi.NotFound",
            f"Specified api {action!r} is not found in version {version}; the sandbox serves "
            f"{', '.join(actions)}.",
        )


def _in_terms_of(product: str, error: ApiError) -> ApiError:
    """Return an injected fault as ``product`` spells it (ECS has its own codes)."""
    if product != "Ecs":
        return error
    if error.code == "Rejected.Throttling":
        return ApiError(400, "Throttling", "Request was denied due to request throttling.")
    if error.code == "InternalFailure":
        return ApiError(
            500,
            "InternalError",
            "The request processing has failed due to some unknown error, exception or failure.",
        )
    return error


def _json(body: Mapping[str, Any], *, status: int, request_id: str) -> web.Response:
    return web.Response(
        text=json.dumps(body),
        status=status,
        content_type="application/json",
        charset="utf-8",
        headers={"x-acs-request-id": request_id},
    )
