"""HTTP mode: ``POST /slack/events`` (commands, interactivity, options, events),
``GET /healthz`` and ``GET /metrics``, on aiohttp (Socket Mode serves the last two only:
``build_health_app``); in OAuth install mode also bolt's install flow, ``GET
/slack/install`` (the "Add to Slack" page) and ``GET /slack/oauth_redirect`` (where Slack
sends the installer back: state checked and used once, code exchanged, tokens kept).

The request handler checks Slack's signature headers before it reads the body (a
malformed one is a 400, a missing or stale one a 401, a declared length over ``MAX_BODY``
a 413: no signed Slack request to this app is that large), then checks the signature over
the body (401 otherwise), answers a body it cannot parse with 400, and never lets an
exception become a 5xx: the app's error handler already told the person; here it is only
logged. A body larger than ``MAX_BODY`` is answered 413, one that has not arrived within
``body_timeout`` seconds 408, and one still arriving when the server stops 503. Each
request counts itself, and what it starts, as the server's ``RequestWork``, which a stop
waits for, and is dispatched inside its ``observe.observed`` scope (its id bound for the
log, its outcome counted).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Mapping

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from ecs_secret_bot.bot.listener import Limits, RequestWork
from ecs_secret_bot.bot.observe import NO_OBSERVER, MetricsPage, RequestObserver, observed

__all__ = [
    "EVENTS_PATH",
    "HEALTH_PATH",
    "MAX_BODY",
    "METRICS_PATH",
    "build_health_app",
    "build_web_app",
    "refuse_unsigned",
]

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
MAX_BODY = 256 * 1024
"""Bytes of a request body read at most. The largest request Slack sends this app, a create
modal submitted with every field at its limit, is under 80 KB form-encoded; App Home's view
with a Refresh click about 30 KB. Unsigned bodies are never buffered beyond this."""
MAX_AGE = 5 * 60
"""Seconds a request's timestamp may be from now, as Slack's verifier allows."""
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")


def refuse_unsigned(headers: Mapping[str, str], *, now: float) -> web.Response | None:
    """Refuse, from its headers alone, a request that cannot be a signed Slack one."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not timestamp or not signature:
        return web.Response(status=401, text="missing Slack signature headers")
    if not _TIMESTAMP.match(timestamp) or not _SIGNATURE.match(signature):
        return web.Response(status=400, text="malformed Slack signature headers")
    if abs(now - int(timestamp)) > MAX_AGE:
        return web.Response(status=401, text="stale Slack request timestamp")
    length = headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        return web.Response(status=413, text="request body too large")
    return None


def build_web_app(
    app: AsyncApp,
    *,
    signing_secret: str,
    body_timeout: float = Limits.body_timeout,
    work: RequestWork | None = None,
    observer: RequestObserver = NO_OBSERVER,
    metrics: MetricsPage | None = None,
) -> web.Application:
    """Return the aiohttp application that serves ``app``, its health and its metrics."""
    verifier = SignatureVerifier(signing_secret)
    work = RequestWork() if work is None else work

    async def events(request: web.Request) -> web.Response:
        refused = refuse_unsigned(request.headers, now=time.time())
        if refused is not None:
            return refused
        work.enter()
        try:
            # at most client_max_size (MAX_BODY) bytes, else aiohttp answers 413
            raw = await work.read_body(request, timeout=body_timeout)
        except TimeoutError:
            return web.Response(status=408, text="the request body did not arrive in time")
        if raw is None:
            return web.Response(status=503, text="the server is stopping; send it again")
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return web.Response(status=400, text="body is not UTF-8")
        if not verifier.is_valid_request(body, dict(request.headers)):
            return web.Response(status=401, text="invalid signature or timestamp")
        try:
            bolt_request = AsyncBoltRequest(
                body=body,
                query=request.query_string,
                headers=dict(request.headers),
            )
        except Exception:
            return web.Response(status=400, text="body is not a Slack payload")
        with observed(observer, bolt_request.body):
            try:
                bolt_response = await app.async_dispatch(bolt_request)
            except Exception:
                reference = uuid.uuid4().hex[:12]
                logger.exception("dispatch failed, reference %s", reference)
                return web.Response(status=200, text="")
        if bolt_response.status >= 500:
            bolt_response.status = 200
            bolt_response.body = ""
        return await to_aiohttp_response(bolt_response)

    web_app = build_health_app(metrics)
    web_app.router.add_post(EVENTS_PATH, events)
    flow = app.oauth_flow
    if flow is not None:

        async def install(request: web.Request) -> web.Response:
            bolt_request = AsyncBoltRequest(
                body="", query=request.query_string, headers=dict(request.headers)
            )
            if request.path == flow.install_path:
                return await to_aiohttp_response(await flow.handle_installation(bolt_request))
            return await to_aiohttp_response(await flow.handle_callback(bolt_request))

        web_app.router.add_get(flow.install_path, install)
        web_app.router.add_get(flow.redirect_uri_path, install)
    return web_app


def build_health_app(metrics: MetricsPage | None = None) -> web.Application:
    """Return the aiohttp application that serves ``/healthz`` and, if given, ``/metrics``."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    web_app = web.Application(client_max_size=MAX_BODY)
    web_app.router.add_get(HEALTH_PATH, healthz)
    if metrics is not None:
        page = metrics

        async def scrape(_: web.Request) -> web.Response:
            body = await page.render()
            return web.Response(body=body, headers={"Content-Type": page.content_type})

        web_app.router.add_get(METRICS_PATH, scrape)
    return web_app
