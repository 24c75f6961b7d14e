"""Errors that name the cause and the fix, and retries by error family, through the real SDK.

A loopback server answers every call with the error a test chooses (the sandbox emulates
the services; this one emulates their failures), or the network fails for real: a closed
port, a name that does not resolve, TLS spoken to a plain HTTP server, a server that never
answers.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from fakes.cloud import sandbox_credential

from ecs_secret_bot.cloud.gateway import AlibabaCloudGateway
from ecs_secret_bot.cloud.retry import RetryPolicy
from ecs_secret_bot.commands.gateway import CreateSecretCall
from ecs_secret_bot.commands.settings import CloudSettings
from ecs_secret_bot.commands.values import PasswordValue
from ecs_secret_bot.errors import (
    CloudClientError,
    CloudError,
    CloudPermissionDenied,
    CloudThrottled,
    CloudUnavailable,
)

REGION = "cn-hangzhou"
RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, attempt_timeout=5)


class Answering:
    """A loopback server answering every call with one error (status, code, extra fields)."""

    def __init__(self) -> None:
        self.status = 500
        self.body: dict[str, Any] = {}
        self.calls = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    def answer(self, status: int, code: str, **fields: Any) -> None:
        self.status = status
        self.body = {"RequestId": "REQ-1", "Code": code, "Message": f"{code} says no", **fields}

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.calls += 1
        return web.Response(
            text=json.dumps(self.body), status=self.status, content_type="application/json"
        )

    async def __aenter__(self) -> Answering:
        app = web.Application()
        app.router.add_route("*", "/", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[Answering]:
    async with Answering() as answering:
        yield answering


def gateway_at(url: str, **settings: Any) -> AlibabaCloudGateway:
    cloud = CloudSettings(kms_endpoint=url, ecs_endpoint=url, **settings)
    return AlibabaCloudGateway(cloud, credential=sandbox_credential(), retry=RETRY)


def create_call() -> CreateSecretCall:
    return CreateSecretCall(
        region=REGION,
        name="acs/ecs/web-3-root",
        version_id="v1",
        value=PasswordValue(user_name="root", password="Canary#Pw9-errors"),
        instance_id="i-web3",
    )


# --- retries by family -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (429, "Rejected.Throttling"),
        (400, "Throttling"),
        (403, "Throttling.Resource"),
        (400, "Throttling.User"),
    ],
)
async def test_every_throttling_code_is_retried_then_reported(
    server: Answering, status: int, code: str
) -> None:
    server.answer(status, code)
    with pytest.raises(CloudThrottled) as caught:
        await gateway_at(server.url).describe_instances(REGION)
    assert server.calls == RETRY.max_attempts
    assert caught.value.code == code
    assert "throttling DescribeInstances" in caught.value.user_message


async def test_throttling_is_retried_even_for_a_call_not_safe_to_repeat(
    server: Answering,
) -> None:
    server.answer(429, "Rejected.Throttling")
    with pytest.raises(CloudThrottled):
        await gateway_at(server.url).create_secret(create_call())
    assert server.calls == RETRY.max_attempts  # refused before acting: nothing ran twice


@pytest.mark.parametrize(
    ("status", "code"),
    [(503, "ServiceUnavailable"), (400, "ServiceUnavailableTemporary"), (500, "InternalFailure")],
)
async def test_unavailable_is_retried_only_where_safe_to_repeat(
    server: Answering, status: int, code: str
) -> None:
    server.answer(status, code)
    with pytest.raises(CloudUnavailable) as caught:
        await gateway_at(server.url).list_secrets(REGION)
    assert server.calls == RETRY.max_attempts and caught.value.code == code
    server.calls = 0
    with pytest.raises(CloudUnavailable):
        await gateway_at(server.url).create_secret(create_call())
    assert server.calls == 1  # CreateSecret may have run: never sent twice


# --- what each family says -----------------------------------------------------------------


async def test_a_missing_permission_names_the_action_and_carries_the_detail(
    server: Answering,
) -> None:
    detail = {
        "AuthAction": "ecs:DescribeInstances",
        "NoPermissionType": "ImplicitDeny",
        "PolicyType": "AccountLevelIdentityBasedPolicy",
    }
    server.answer(403, "Forbidden.RAM", AccessDeniedDetail=detail)
    with pytest.raises(CloudPermissionDenied) as caught:
        await gateway_at(server.url).describe_instances(REGION)
    assert server.calls == 1
    error = caught.value
    assert (error.code, error.permission) == ("Forbidden.RAM", "ecs:DescribeInstances")
    assert "ecs:DescribeInstances" in error.user_message
    assert "AccessDeniedDetail: NoPermissionType ImplicitDeny" in error.user_message
    assert "PolicyType AccountLevelIdentityBasedPolicy" in error.user_message


async def test_no_permission_without_detail_names_the_ram_action(server: Answering) -> None:
    server.answer(403, "Forbidden.NoPermission")
    with pytest.raises(CloudPermissionDenied) as caught:
        await gateway_at(server.url).list_secrets(REGION)
    assert "kms:ListSecrets" in caught.value.user_message
    assert "AccessDeniedDetail" not in caught.value.user_message


@pytest.mark.parametrize(
    ("status", "code", "said", "step"),
    [
        (404, "InvalidAccessKeyId.NotFound", "credentials", "ALIBABA_CLOUD_ACCESS_KEY_ID"),
        (400, "InvalidAccessKeyId.Inactive", "credentials", "active"),
        (400, "InvalidSecurityToken.Expired", "credentials", "ALIBABA_CLOUD_SECURITY_TOKEN"),
        (400, "SignatureDoesNotMatch", "credentials", "ALIBABA_CLOUD_ACCESS_KEY_ID"),
        (400, "InvalidTimeStamp.Expired", "time is wrong", "clock"),
        (400, "IllegalTimestamp", "time is wrong", "NTP"),
        (400, "Rejected.LimitExceeded", "quota or limit", "quotas"),
    ],
)
async def test_credentials_clock_and_quota_each_say_what_to_check(
    server: Answering, status: int, code: str, said: str, step: str
) -> None:
    server.answer(status, code)
    with pytest.raises(CloudClientError) as caught:
        await gateway_at(server.url).list_secrets(REGION)
    assert server.calls == 1
    assert said in caught.value.user_message and step in caught.value.next_step.text
    assert "logs" not in caught.value.next_step.text


async def test_a_missing_key_at_create_is_not_a_missing_secret(server: Answering) -> None:
    server.answer(404, "Forbidden.ResourceNotFound")
    with pytest.raises(CloudClientError) as caught:
        await gateway_at(server.url).create_secret(create_call())
    assert "KMS instance or the key" in caught.value.user_message
    assert "encryption_key_id" in caught.value.next_step.text
    with pytest.raises(CloudClientError) as caught:
        await gateway_at(server.url).describe_secret(REGION, "acs/ecs/web-3-root")
    assert "KMS has no acs/ecs/web-3-root in this region" in caught.value.user_message


async def test_in_use_means_nothing_to_restore_only_for_restore(server: Answering) -> None:
    server.answer(409, "Rejected.ResourceInUse")
    gateway = gateway_at(server.url)
    with pytest.raises(CloudClientError) as caught:
        await gateway.restore_secret(REGION, "acs/ecs/web-3-root")
    assert "nothing to restore" in caught.value.user_message
    with pytest.raises(CloudClientError) as caught:
        await gateway.rotate_secret(REGION, "acs/ecs/web-3-root", version_id="v2")
    assert "is in use" in caught.value.user_message


# --- connection failures -----------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def unreachable(endpoint: str, **settings: Any) -> CloudError:
    with pytest.raises(CloudUnavailable) as caught:
        await gateway_at(endpoint, **settings).list_secrets(REGION)
    error = caught.value
    assert "logs" not in str(error)  # never "check the bot's logs": say what to check
    assert "kms_endpoint" in error.next_step.text and "reachable" in error.next_step.text
    return error


async def test_a_refused_connection_names_the_endpoint_and_the_cause() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    error = await unreachable(url)
    assert f"could not be reached at {url} for ListSecrets" in error.user_message
    assert "refused" in error.user_message


async def test_a_name_that_does_not_resolve_says_dns() -> None:
    error = await unreachable("https://kms.cn-hangzou.invalid")
    assert "https://kms.cn-hangzou.invalid" in error.user_message
    assert "does not resolve (DNS)" in error.user_message


async def test_tls_spoken_to_a_plain_server_says_tls(server: Answering) -> None:
    error = await unreachable(server.url.replace("http://", "https://"))
    assert "TLS" in error.user_message and server.calls == 0


async def test_an_endpoint_that_never_answers_says_it_timed_out() -> None:
    done = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await done.wait()
        writer.close()

    quiet = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = quiet.sockets[0].getsockname()[1]
    try:
        error = await unreachable(
            f"http://127.0.0.1:{port}", read_timeout=timedelta(milliseconds=300)
        )
    finally:
        done.set()
        quiet.close()
        await quiet.wait_closed()
    assert "did not answer in time" in error.user_message
