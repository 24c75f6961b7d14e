"""Where KMS and ECS answer for each region, and which regions Alibaba Cloud has.

Alibaba Cloud routes a call by the endpoint it is sent to, never by a header or (for KMS) a
parameter: a secret of ``cn-shanghai`` exists only behind ``kms.cn-shanghai.aliyuncs.com``.
So each region has its own endpoint per service, in this order of precedence:

1. ``kms_endpoint`` / ``ecs_endpoint`` under ``[cloud.region_defaults.<region>]``;
2. ``kms_endpoint`` / ``ecs_endpoint`` under ``[cloud]``, where ``{region}`` stands for the
   region id (a template; without ``{region}`` it serves one region only, see ``config``);
3. the documented endpoint of the region: ``kms.<region>.aliyuncs.com`` and
   ``ecs.<region>.aliyuncs.com``, or with ``network = "vpc"`` ``kms-vpc.<region>...`` and
   ``ecs-vpc.<region>...``, over HTTPS.

``REGIONS`` is the list of region ids the KMS endpoint page names (KMS is the service a
secret lives in; ECS has an endpoint in each of them), checked on the date below:

- https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-endpoint
  (updated 2025-07-29) and its Chinese edition on help.aliyun.com;
- https://www.alibabacloud.com/help/doc-detail/69006.htm (the older KMS endpoint list: the
  finance regions, ``me-east-1``, ``eu-west-1``);
- https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-endpoint
  (updated 2026-01-12): every ECS region has ``ecs.<region>.aliyuncs.com`` and
  ``ecs-vpc.<region>.aliyuncs.com``; the central ``ecs.aliyuncs.com`` of older pages is not
  listed there, so it is not used.

A region that opened after that date can still be used: give both endpoints under its
``[cloud.region_defaults.<region>]`` (``config`` accepts it then).

Owns: the region list and the endpoint of a service in a region. Never does: calls, clients
(``gateway``), reading the configuration file (``config``). Imports no SDK: ``config`` checks
regions with it at start-up.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from ecs_secret_bot.commands.settings import CloudSettings

__all__ = [
    "CLOSED_REGIONS",
    "REGIONS",
    "REGIONS_CHECKED",
    "REGIONS_SOURCE",
    "Endpoint",
    "Service",
    "close_regions",
    "default_endpoint",
    "endpoint_for",
]

Service = Literal["kms", "ecs"]

REGIONS_SOURCE = (
    "https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/"
    "api-kms-2016-01-20-endpoint"
)
REGIONS_CHECKED = "2026-01-12"

REGIONS: tuple[str, ...] = (
    # China
    "cn-qingdao",
    "cn-beijing",
    "cn-zhangjiakou",
    "cn-huhehaote",
    "cn-wulanchabu",
    "cn-hangzhou",
    "cn-shanghai",
    "cn-fuzhou",
    "cn-shenzhen",
    "cn-heyuan",
    "cn-guangzhou",
    "cn-wuhan-lr",
    "cn-chengdu",
    "cn-hongkong",
    # Asia Pacific
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-3",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    # Europe and Americas
    "eu-central-1",
    "eu-west-1",
    "us-east-1",
    "us-west-1",
    # Middle East
    "me-east-1",
    "me-central-1",
    # Finance cloud
    "cn-hangzhou-finance",
    "cn-shanghai-finance-1",
    "cn-shenzhen-finance-1",
)
"""The regions KMS (and ECS) serve, as the endpoint pages name them."""

CLOSED_REGIONS: dict[str, str] = {
    "ap-southeast-2": "Australia (Sydney), marked closed on the KMS endpoint page",
    "ap-south-1": "India (Mumbai), marked closed on Alibaba Cloud's endpoint pages",
}
"""Regions the pages still list, marked closed: refused with the reason."""


@dataclass(frozen=True)
class Endpoint:
    """Where one service of one region answers: ``host[:port]`` and ``https`` or ``http``."""

    host: str
    protocol: str = "https"

    @property
    def url(self) -> str:
        """Return ``<protocol>://<host>``, as messages name it."""
        return f"{self.protocol}://{self.host}"

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """Read ``[http://|https://]host[:port][/]``."""
        scheme, sep, host = text.rpartition("://")
        return cls(host=host.rstrip("/"), protocol=scheme.lower() if sep else "https")


def default_endpoint(service: Service, region: str, *, network: str = "public") -> Endpoint:
    """Return the documented endpoint of ``service`` in ``region`` (public or VPC)."""
    suffix = "-vpc" if network == "vpc" else ""
    return Endpoint(f"{service}{suffix}.{region}.aliyuncs.com")


def endpoint_for(cloud: CloudSettings, service: Service, region: str) -> Endpoint:
    """Return the endpoint the configuration gives ``service`` in ``region``."""
    override = cloud.endpoint_override(service, region)
    if override:
        return Endpoint.parse(override)
    return default_endpoint(service, region, network=cloud.network)


def close_regions(region: str) -> list[str]:
    """Return the known regions a misspelt ``region`` most likely meant, best first."""
    return difflib.get_close_matches(region, REGIONS, n=2, cutoff=0.75)
