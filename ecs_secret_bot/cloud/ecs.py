"""The ECS calls of the gateway: each names its SDK method and request model, and maps the answer.

Both calls are reads (idempotent): DescribeInstances for the instance pickers and the
pre-flight, DescribeCloudAssistantStatus for the pre-flight. An instance's public IPs are
its assigned ones (``PublicIpAddress.IpAddress``) and its elastic IP
(``EipAddress.IpAddress``), which DescribeInstances reports apart. Their answers (``sdk``'s
shapes) become the frozen results of ``commands.gateway``, so no SDK model leaks upward.

Owns: the ECS request parameters and the reading of ECS answers. Never does: build clients
(``gateway``), retry or map errors (``retry``, ``errors``), decide what a pre-flight needs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ecs_secret_bot.cloud.retry import Sender
from ecs_secret_bot.cloud.sdk import (
    CloudAssistantStatusBody,
    DescribeInstancesBody,
    EcsSdk,
    SdkInstance,
)
from ecs_secret_bot.commands.gateway import CloudAssistantState, Instance, InstancePage

__all__ = ["ASSISTANT_PAGE", "Ecs"]

ASSISTANT_PAGE = 50
"""The most instances one DescribeCloudAssistantStatus answers (``MaxResults``)."""


def _models() -> Any:
    """Return the SDK's ECS models module (untyped), imported at the first call: it is slow."""
    from alibabacloud_ecs20140526 import models

    return models


class Ecs:
    """The ECS calls of ``CloudGateway``, over the ECS client of each region."""

    def __init__(self, send: Sender[EcsSdk]) -> None:
        self._send = send

    async def describe_instances(
        self,
        region: str,
        *,
        instance_ids: Sequence[str] = (),
        name: str | None = None,
        status: str | None = None,
        max_results: int = 100,
        next_token: str | None = None,
        tags: Sequence[tuple[str, str]] = (),
    ) -> InstancePage:
        """List one page of ECS instances (those carrying every tag of ``tags``, if given)."""
        models = _models()
        request = models.DescribeInstancesRequest(
            region_id=region,
            instance_ids=json.dumps(list(instance_ids)) if instance_ids else None,
            instance_name=name or None,
            status=status or None,
            max_results=max_results,
            next_token=next_token or None,
            tag=[models.DescribeInstancesRequestTag(key=k, value=v) for k, v in tags] or None,
        )
        response = await self._send(
            region,
            "DescribeInstances",
            lambda client: client.describe_instances_async(request),
            idempotent=True,
        )
        return _instance_page(region, response.body)

    async def cloud_assistant_status(
        self, region: str, instance_ids: Sequence[str]
    ) -> tuple[CloudAssistantState, ...]:
        """Say, for each instance, whether its Cloud Assistant is online."""
        states: list[CloudAssistantState] = []
        # ECS answers 10 instances a page unless asked for more, and 50 at most: one page
        # of 50 per 50 instances, else the instances past the first 10 read as offline
        for start in range(0, len(instance_ids), ASSISTANT_PAGE):
            states.extend(
                await self._assistant_page(region, instance_ids[start : start + ASSISTANT_PAGE])
            )
        return tuple(states)

    async def _assistant_page(
        self, region: str, instance_ids: Sequence[str]
    ) -> tuple[CloudAssistantState, ...]:
        request = _models().DescribeCloudAssistantStatusRequest(
            region_id=region, instance_id=list(instance_ids), max_results=ASSISTANT_PAGE
        )
        response = await self._send(
            region,
            "DescribeCloudAssistantStatus",
            lambda client: client.describe_cloud_assistant_status_async(request),
            idempotent=True,
        )
        return _assistant_states(response.body)


def _public_ips(row: SdkInstance) -> tuple[str, ...]:
    """Return the public IPs: the assigned ones (``PublicIpAddress``) and the EIP, if any."""
    public = row.public_ip_address
    found = list((public.ip_address if public is not None else None) or ())
    eip = row.eip_address.ip_address if row.eip_address is not None else None
    if eip and eip not in found:
        found.append(str(eip))
    return tuple(str(ip) for ip in found if ip)


def _tags(row: SdkInstance) -> dict[str, str]:
    """Return the instance's tags (``Tags.Tag[].TagKey/TagValue``)."""
    rows = (row.tags.tag if row.tags is not None else None) or ()
    return {str(t.tag_key): str(t.tag_value or "") for t in rows if t.tag_key}


def _instance(region: str, row: SdkInstance) -> Instance:
    vpc = row.vpc_attributes
    private = vpc.private_ip_address if vpc is not None else None
    return Instance(
        region=region,
        instance_id=str(row.instance_id),
        name=str(row.instance_name or ""),
        status=str(row.status or ""),
        os_type=str(row.ostype or "").lower(),
        os_name=str(row.osname or ""),
        zone_id=str(row.zone_id or ""),
        private_ips=tuple((private.ip_address if private is not None else None) or ()),
        public_ips=_public_ips(row),
        tags=_tags(row),
    )


def _instance_page(region: str, body: DescribeInstancesBody) -> InstancePage:
    rows = (body.instances.instance if body.instances is not None else None) or []
    return InstancePage(
        region=region,
        instances=tuple(_instance(region, i) for i in rows),
        next_token=str(body.next_token) if body.next_token else None,
        request_id=str(body.request_id or ""),
    )


def _assistant_states(body: CloudAssistantStatusBody) -> tuple[CloudAssistantState, ...]:
    container = body.instance_cloud_assistant_status_set
    rows = (container.instance_cloud_assistant_status if container is not None else None) or []
    return tuple(
        CloudAssistantState(
            instance_id=str(r.instance_id),
            online=str(r.cloud_assistant_status).lower() == "true",
        )
        for r in rows
    )
