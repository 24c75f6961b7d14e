"""Fixtures for the sandbox tests: a started sandbox and real SDK clients aimed at it.

Owns `sandbox` (seeded, rotations complete after 0.05 s, port 0), `kms` and `ecs` (the
real `alibabacloud_kms20160120` / `alibabacloud_ecs20140526` clients over plain HTTP),
`kms_client` (a factory for clients with other keys or settings), `raw_call` (a signed
request sent with aiohttp, with any part overridden, for the gateway checks) and
`eventually` (wait for a condition without fixed sleeps).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_openapi.utils import Utils

from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.sandbox.ram import ADMINISTRATOR_ACCESS

REGION = "cn-hangzhou"
WEB3 = "i-bp1sbxweb3000000001"  # seeded: linux, Running, Cloud Assistant online
WEB4 = "i-bp1sbxweb4000000002"
WIN1 = "i-bp1sbxwin1000000003"  # windows
DB1 = "i-bp1sbxdb10000000004"  # Stopped
BATCH7 = "i-bp1sbxbat7000000005"  # Cloud Assistant offline


def sdk_config(sb: Sandbox, **overrides: Any) -> Config:
    """Return an SDK Config aimed at ``sb`` with the public sandbox AccessKey."""
    values: dict[str, Any] = {
        "access_key_id": "sandbox",
        "access_key_secret": "sandbox-secret",
        "endpoint": sb.endpoint,
        "protocol": "http",
    }
    values.update(overrides)
    return Config(**values)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    # These tests drive KMS and ECS themselves, generic secrets included: their AccessKey has
    # AdministratorAccess (RAM itself is tested with the bot's policy in test_sandbox_ram.py).
    async with Sandbox(rotation_delay=0.05, ram_policy=ADMINISTRATOR_ACCESS) as sb:
        yield sb


@pytest.fixture
def kms(sandbox: Sandbox) -> KmsClient:
    return KmsClient(sdk_config(sandbox))


@pytest.fixture
def ecs(sandbox: Sandbox) -> EcsClient:
    return EcsClient(sdk_config(sandbox))


@pytest.fixture
def kms_client(sandbox: Sandbox) -> Callable[..., KmsClient]:
    """Return a factory of KMS clients with Config overrides (keys, algorithm...)."""

    def make(**overrides: Any) -> KmsClient:
        return KmsClient(sdk_config(sandbox, **overrides))

    return make


@pytest.fixture
def raw_call(sandbox: Sandbox) -> Callable[..., Awaitable[tuple[int, dict[str, Any]]]]:
    """Send one V3-signed RPC request by hand; any part can be overridden or tampered."""

    async def call(
        action: str = "ListSecrets",
        *,
        query: dict[str, str] | None = None,
        body: dict[str, str] | None = None,
        version: str = "2016-01-20",
        access_key: tuple[str, str] = ("sandbox", "sandbox-secret"),
        date: str | None = None,
        nonce: str | None = None,
        send_body: bytes | None = None,
        extra_headers: dict[str, str] | None = None,
        authorization: str | None = None,
        sign: bool = True,
    ) -> tuple[int, dict[str, Any]]:
        query = query or {}
        payload = urlencode(sorted((body or {}).items())).encode() if body else b""
        headers = {
            "host": sandbox.endpoint,
            "x-acs-action": action,
            "x-acs-version": version,
            "x-acs-date": date or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
            "x-acs-content-sha256": hashlib.sha256(payload).hexdigest(),
            "accept": "application/json",
            **(extra_headers or {}),
        }
        if body:
            headers["content-type"] = "application/x-www-form-urlencoded"
        request = _Signable("POST", "/", query, headers)
        if sign:
            headers["Authorization"] = authorization or Utils.get_authorization(
                request, "ACS3-HMAC-SHA256", headers["x-acs-content-sha256"], *access_key
            )
        url = sandbox.url + "/" + ("?" + urlencode(query) if query else "")
        async with aiohttp.ClientSession() as session:
            data = payload if send_body is None else send_body
            async with session.post(url, data=data, headers=headers) as response:
                return response.status, json.loads(await response.text())

    return call


class _Signable:
    def __init__(self, method: str, pathname: str, query: dict[str, str], headers: dict[str, str]):
        self.method = method
        self.pathname = pathname
        self.query = query
        self.headers = headers


@pytest.fixture
def eventually() -> Callable[..., Awaitable[None]]:
    """Return ``wait(predicate, timeout=2)``: poll until the (async) predicate holds."""

    async def wait(predicate: Callable[[], Any], timeout: float = 2.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = predicate()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("condition not met in time")
            await asyncio.sleep(0.01)

    return wait
