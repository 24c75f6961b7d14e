"""Our retries of SDK calls: the policy, and the loop that runs one call under it.

Retries are ours, not darabonba's ``RetryOptions``: we need retries by error family
(throttling always; ``ServiceUnavailable*``, 5xx, timeouts and broken connections only for
calls safe to repeat; never another 4xx), a per-attempt timeout, and, for calls that are not
idempotent (CreateSecret, DeleteSecret, RestoreSecret), no retry after a request that may
have reached the service (``errors.is_retryable`` decides). Every attempt runs on the SDK
loop (``sdk_loop``); every failure leaves as a ``CloudError`` (``errors.to_cloud_error``)
naming the service and the endpoint it was sent to.

Every attempt, retries included, is reported to the policy's ``observer`` (a
``CallObserver``: the metrics), with its API name, its error code ("ok" for success) and its
duration: this loop is the one place every SDK call passes.

Owns: backoff with full jitter, Retry-After, the attempt timeout, the retry log line, the
``CallObserver`` protocol. Never does: build requests or clients, read answers, decide what
an error code means.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from ecs_secret_bot.cloud.errors import is_retryable, to_cloud_error
from ecs_secret_bot.cloud.sdk_loop import run_on_sdk_loop
from ecs_secret_bot.commands.gateway import CloudIdentity
from ecs_secret_bot.commands.settings import CloudSettings

__all__ = ["CallObserver", "RetryPolicy", "Sender", "call_with_retries"]

logger = logging.getLogger(__name__)
T = TypeVar("T")
C = TypeVar("C")


class CallObserver(Protocol):
    """Hears of every attempt of a cloud call (the metrics implement it)."""

    def cloud_call(
        self, *, service: str, action: str, code: str, seconds: float, retry: bool
    ) -> None:
        """Note one attempt of ``action``: its error code ("ok" for success), its duration."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter."""

    max_attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 5.0
    attempt_timeout: float = 20.0
    observer: CallObserver | None = field(default=None, compare=False, repr=False)
    """Hears of each attempt (``runtime`` gives the metrics); None: nobody."""

    @classmethod
    def for_cloud(cls, settings: CloudSettings) -> RetryPolicy:
        """Return the policy of the configured attempts and timeouts."""
        return cls(
            max_attempts=settings.max_attempts,
            attempt_timeout=(settings.read_timeout + settings.connect_timeout).total_seconds(),
        )

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Return how long to wait before attempt ``attempt + 1`` (attempt counts from 1)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        wait = random.uniform(0, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay))
        return wait


async def call_with_retries(
    action: str,
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    idempotent: bool,
    subject: str = "",
    identity: CloudIdentity | None = None,
    service: str = "",
    endpoint: str = "",
) -> T:
    """Run one SDK call on the SDK loop under ``policy``; turn failures into CloudError."""
    attempt = 0
    observer = policy.observer
    while True:
        attempt += 1
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(run_on_sdk_loop(call), timeout=policy.attempt_timeout)
        except Exception as exc:  # noqa: BLE001 - every SDK failure is mapped below
            error = to_cloud_error(
                exc,
                action=action,
                subject=subject,
                identity=identity,
                service=service,
                endpoint=endpoint,
            )
            if observer is not None:
                took = time.perf_counter() - started
                code = error.code or type(exc).__name__
                observer.cloud_call(
                    service=service, action=action, code=code, seconds=took, retry=attempt > 1
                )
            retry, retry_after = is_retryable(exc, idempotent=idempotent)
            if not retry or attempt >= policy.max_attempts:
                raise error from None
            wait = policy.delay(attempt, retry_after)
            logger.info(
                "retrying %s after %s (attempt %d of %d, waiting %.2fs)",
                action,
                error.code or type(exc).__name__,
                attempt,
                policy.max_attempts,
                wait,
            )
            await asyncio.sleep(wait)
        else:
            if observer is not None:
                took = time.perf_counter() - started
                observer.cloud_call(
                    service=service, action=action, code="ok", seconds=took, retry=attempt > 1
                )
            return result


@dataclass(frozen=True)
class Sender(Generic[C]):
    """Send calls with the client (``C``) of a region, under a retry policy."""

    client: Callable[[str], Awaitable[C]]
    """The client of a region (built on first use; refuses a region the bot does not manage;
    for a role, with its current temporary credentials)."""
    policy: RetryPolicy
    identity: CloudIdentity | None = None
    """The role the calls run as; None: the bot's own identity."""
    service: str = ""
    """``kms`` or ``ecs``: the RAM prefix of the actions sent (for messages)."""
    where: Callable[[str], str] | None = None
    """The endpoint URL of a region's client (for messages)."""

    async def __call__(
        self,
        region: str,
        action: str,
        call: Callable[[C], Awaitable[T]],
        *,
        idempotent: bool,
        subject: str = "",
    ) -> T:
        """Send ``call(client)`` as ``action`` with the region's client, retrying as it may."""
        client = await self.client(region)
        return await call_with_retries(
            action,
            lambda: call(client),
            policy=self.policy,
            idempotent=idempotent,
            subject=subject,
            identity=self.identity,
            service=self.service,
            endpoint=self.where(region) if self.where else "",
        )
