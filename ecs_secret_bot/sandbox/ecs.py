"""The emulated ECS: instances per region and the two read actions the bot uses.

Owns the instances (status, OS type, Cloud Assistant online or not, Cloud Assistant
invocation counters) and answers ``DescribeInstances`` and
``DescribeCloudAssistantStatus`` with the field names of the SDK response models.
Never touches secrets: KMS asks it whether an instance can take a credential.

Paging, as documented: ``MaxResults``/``NextToken`` (the token is opaque; an empty
``NextToken`` marks the last page; ``MaxResults`` under 10 counts as 10) or the older
``PageNumber``/``PageSize``. Filters of DescribeInstances: ``InstanceIds`` (JSON array,
up to 100), ``InstanceName`` (``*`` matches any run of characters), ``Status``,
``ZoneId``, ``Tag.N.Key``/``Tag.N.Value``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from ecs_secret_bot.sandbox.clock import Clock, format_utc
from ecs_secret_bot.sandbox.errors import ApiError, invalid_parameter
from ecs_secret_bot.sandbox.params import Params

__all__ = ["INSTANCE_STATUSES", "EcsState", "Instance"]

INSTANCE_STATUSES = ("Pending", "Running", "Starting", "Stopping", "Stopped")
_OS_TYPES = ("linux", "windows")
_T = TypeVar("_T")


@dataclass
class Instance:
    """One ECS instance as the sandbox knows it."""

    instance_id: str
    name: str
    region: str
    status: str = "Running"
    os_type: str = "linux"
    os_name: str = ""
    cloud_assistant_online: bool = True
    zone_id: str = ""
    private_ip: str = "172.16.0.10"
    public_ip: str = ""
    """An assigned public IP (``PublicIpAddress``)."""
    eip: str = ""
    """An associated elastic IP (``EipAddress``), which ECS reports apart from the above."""
    instance_type: str = "ecs.g7.large"
    created: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)
    invocation_count: int = 0
    last_invoked: datetime | None = None

    def to_api(self) -> dict[str, Any]:
        """Return the DescribeInstances ``Instance`` entry."""
        created = format_utc(self.created) if self.created else ""
        return {
            "InstanceId": self.instance_id,
            "InstanceName": self.name,
            "HostName": self.name,
            "Description": "",
            "Status": self.status,
            "OSType": self.os_type,
            "OSName": self.os_name,
            "OSNameEn": self.os_name,
            "RegionId": self.region,
            "ZoneId": self.zone_id,
            "InstanceType": self.instance_type,
            "InstanceNetworkType": "vpc",
            "InstanceChargeType": "PostPaid",
            "CreationTime": created,
            "StartTime": created,
            "Cpu": 2,
            "Memory": 8192,
            "KeyPairName": "",
            "PublicIpAddress": {"IpAddress": [self.public_ip] if self.public_ip else []},
            "EipAddress": {
                "IpAddress": self.eip,
                "AllocationId": f"eip-{self.instance_id.removeprefix('i-')}" if self.eip else "",
                "InternetChargeType": "PayByTraffic" if self.eip else "",
            },
            "VpcAttributes": {
                "VpcId": "vpc-sandbox",
                "VSwitchId": "vsw-sandbox",
                "PrivateIpAddress": {"IpAddress": [self.private_ip]},
            },
            "Tags": {"Tag": [{"TagKey": k, "TagValue": v} for k, v in self.tags.items()]},
        }

    def to_assistant_api(self) -> dict[str, Any]:
        """Return the DescribeCloudAssistantStatus ``InstanceCloudAssistantStatus`` entry."""
        return {
            "InstanceId": self.instance_id,
            "CloudAssistantStatus": "true" if self.cloud_assistant_online else "false",
            "CloudAssistantVersion": "2.5.3.346",
            "OSType": "Windows" if self.os_type == "windows" else "Linux",
            "ActiveTaskCount": 0,
            "InvocationCount": self.invocation_count,
            "LastInvokedTime": format_utc(self.last_invoked) if self.last_invoked else "",
            "LastHeartbeatTime": format_utc(self.created) if self.created else "",
            "SupportSessionManager": self.cloud_assistant_online,
        }


class EcsState:
    """Instances per region, and the ECS actions over them."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._regions: dict[str, dict[str, Instance]] = {}

    def add(self, instance: Instance) -> Instance:
        """Add (or replace) an instance."""
        if instance.status not in INSTANCE_STATUSES:
            raise ValueError(f"status must be one of {', '.join(INSTANCE_STATUSES)}")
        if instance.os_type not in _OS_TYPES:
            raise ValueError('os_type must be "linux" or "windows"')
        if instance.created is None:
            instance.created = self._clock()
        if not instance.zone_id:
            instance.zone_id = f"{instance.region}-b"
        if not instance.os_name:
            instance.os_name = (
                "Windows Server 2022 Datacenter 64bit"
                if instance.os_type == "windows"
                else "Alibaba Cloud Linux 3.2104 LTS 64 bit"
            )
        self._regions.setdefault(instance.region, {})[instance.instance_id] = instance
        return instance

    def remove(self, region: str, instance_id: str) -> None:
        """Release an instance (its secrets stay; their next rotation fails)."""
        self.require(region, instance_id)
        del self._regions[region][instance_id]

    def get(self, region: str, instance_id: str) -> Instance | None:
        """Return the instance, or None."""
        return self._regions.get(region, {}).get(instance_id)

    def require(self, region: str, instance_id: str) -> Instance:
        """Return the instance or raise LookupError saying which one is missing."""
        instance = self.get(region, instance_id)
        if instance is None:
            raise LookupError(f"no instance {instance_id!r} in region {region!r}")
        return instance

    def record_invocation(self, region: str, instance_id: str) -> None:
        """Count one Cloud Assistant command sent to the instance (if it exists)."""
        instance = self.get(region, instance_id)
        if instance is not None:
            instance.invocation_count += 1
            instance.last_invoked = self._clock()

    def describe_instances(self, region: str, params: Params) -> dict[str, Any]:
        """Answer DescribeInstances."""
        instances = list(self._regions.get(region, {}).values())
        ids_value = params.text("InstanceIds")
        if ids_value is not None:
            ids = _instance_ids(ids_value)
            instances = [i for i in instances if i.instance_id in ids]
        name = params.text("InstanceName")
        if name is not None:
            pattern = re.compile("^" + ".*".join(map(re.escape, name.split("*"))) + "$")
            instances = [i for i in instances if pattern.match(i.name)]
        status = params.text("Status")
        if status is not None:
            if status not in INSTANCE_STATUSES:
                raise ApiError(
                    400, "InvalidStatus.ValueNotSupported", f"The Status {status!r} is not valid."
                )
            instances = [i for i in instances if i.status == status]
        zone = params.text("ZoneId")
        if zone is not None:
            instances = [i for i in instances if i.zone_id == zone]
        for key, value in _tag_filters(params):
            instances = [i for i in instances if key in i.tags and value in (None, i.tags[key])]
        body = _page(params, instances, max_page=100, to_api=Instance.to_api)
        return {"Instances": {"Instance": body.pop("Items")}, **body}

    def describe_cloud_assistant_status(self, region: str, params: Params) -> dict[str, Any]:
        """Answer DescribeCloudAssistantStatus."""
        instances = list(self._regions.get(region, {}).values())
        ids = params.indexed("InstanceId", limit=100)
        if ids:
            instances = [i for i in instances if i.instance_id in ids]
        os_type = params.text("OSType")
        if os_type is not None:
            if os_type.lower() not in ("windows", "linux", "freebsd"):
                raise invalid_parameter("OSType", "use Windows, Linux or FreeBSD.")
            instances = [i for i in instances if i.os_type == os_type.lower()]
        body = _page(params, instances, max_page=50, to_api=Instance.to_assistant_api)
        return {
            "InstanceCloudAssistantStatusSet": {"InstanceCloudAssistantStatus": body.pop("Items")},
            **body,
        }


def _instance_ids(value: str) -> set[str]:
    try:
        ids = json.loads(value)
    except ValueError:
        ids = None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(
            400,
            "InvalidInstanceIds.Malformed",
            'The specified parameter InstanceIds is not valid: write a JSON array like ["i-1"].',
        )
    if len(ids) > 100:
        raise ApiError(400, "InvalidInstanceIds.Malformed", "At most 100 InstanceIds are allowed.")
    return set(ids)


def _tag_filters(params: Params) -> list[tuple[str, str | None]]:
    filters = []
    for index in range(1, 21):
        key = params.text(f"Tag.{index}.Key")
        if key is not None:
            filters.append((key, params.text(f"Tag.{index}.Value")))
    return filters


def _page(
    params: Params,
    items: Sequence[_T],
    *,
    max_page: int,
    to_api: Callable[[_T], dict[str, Any]],
) -> dict[str, Any]:
    """Cut one page out of ``items`` by NextToken/MaxResults or PageNumber/PageSize."""
    total = len(items)
    if "MaxResults" in params or "NextToken" in params:
        size = max(params.integer("MaxResults", 10, low=0, high=max_page), 10)
        start = _decode_token(params.text("NextToken"))
        chunk = items[start : start + size]
        end = start + len(chunk)
        token = _encode_token(end) if end < total else ""
        return {"Items": [to_api(i) for i in chunk], "NextToken": token, "TotalCount": total}
    number = params.integer("PageNumber", 1, low=1, high=10**6)
    size = params.integer("PageSize", 10, low=1, high=max_page)
    chunk = items[(number - 1) * size : number * size]
    return {
        "Items": [to_api(i) for i in chunk],
        "NextToken": "",
        "PageNumber": number,
        "PageSize": size,
        "TotalCount": total,
    }


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"sandbox:{offset}".encode()).decode().rstrip("=")


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, offset = text.partition(":")
        if prefix == "sandbox" and offset.isdigit():
            return int(offset)
    except ValueError:
        pass
    raise ApiError(
        400, "InvalidNextToken.Malformed", "The specified parameter NextToken is not valid."
    )
