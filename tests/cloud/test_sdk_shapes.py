"""The typed face of the SDK (``cloud/sdk.py``) names only what the installed SDK has.

mypy trusts those protocols, since the SDK ships no types; this test checks them against the
SDK itself: each client method we call exists and answers the body we read, and each field
we read is one the SDK's model has.
"""

from __future__ import annotations

import re
import typing
from types import ModuleType

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_sts20150401.client import Client as StsClient

from ecs_secret_bot.cloud import sdk

K, E = kms_models, ecs_models
SHAPES: dict[type, tuple[type, ...]] = {
    sdk.ReceiptBody: (
        K.RotateSecretResponseBody,
        K.PutSecretValueResponseBody,
        K.RestoreSecretResponseBody,
        K.UpdateSecretRotationPolicyResponseBody,
    ),
    sdk.CreateSecretBody: (K.CreateSecretResponseBody,),
    sdk.DescribeSecretBody: (K.DescribeSecretResponseBody,),
    sdk.SdkTags: (K.DescribeSecretResponseBodyTags, K.ListSecretsResponseBodySecretListSecretTags),
    sdk.SdkTag: (
        K.DescribeSecretResponseBodyTagsTag,
        K.ListSecretsResponseBodySecretListSecretTagsTag,
    ),
    sdk.ListSecretsBody: (K.ListSecretsResponseBody,),
    sdk.SdkSecretList: (K.ListSecretsResponseBodySecretList,),
    sdk.SdkSecret: (K.ListSecretsResponseBodySecretListSecret,),
    sdk.ListSecretVersionIdsBody: (K.ListSecretVersionIdsResponseBody,),
    sdk.SdkVersionIds: (K.ListSecretVersionIdsResponseBodyVersionIds,),
    sdk.SdkVersion: (K.ListSecretVersionIdsResponseBodyVersionIdsVersionId,),
    sdk.SdkStages: (K.ListSecretVersionIdsResponseBodyVersionIdsVersionIdVersionStages,),
    sdk.DeleteSecretBody: (K.DeleteSecretResponseBody,),
    sdk.EncryptBody: (K.EncryptResponseBody, K.GenerateDataKeyResponseBody),
    sdk.DecryptBody: (K.DecryptResponseBody,),
    sdk.GenerateDataKeyBody: (K.GenerateDataKeyResponseBody,),
    sdk.DescribeInstancesBody: (E.DescribeInstancesResponseBody,),
    sdk.SdkInstances: (E.DescribeInstancesResponseBodyInstances,),
    sdk.SdkInstance: (E.DescribeInstancesResponseBodyInstancesInstance,),
    sdk.SdkVpcAttributes: (E.DescribeInstancesResponseBodyInstancesInstanceVpcAttributes,),
    sdk.SdkEipAddress: (E.DescribeInstancesResponseBodyInstancesInstanceEipAddress,),
    sdk.SdkInstanceTags: (E.DescribeInstancesResponseBodyInstancesInstanceTags,),
    sdk.SdkInstanceTag: (E.DescribeInstancesResponseBodyInstancesInstanceTagsTag,),
    sdk.SdkIpAddresses: (
        E.DescribeInstancesResponseBodyInstancesInstanceVpcAttributesPrivateIpAddress,
        E.DescribeInstancesResponseBodyInstancesInstancePublicIpAddress,
    ),
    sdk.CloudAssistantStatusBody: (E.DescribeCloudAssistantStatusResponseBody,),
    sdk.SdkAssistantStatusSet: (
        E.DescribeCloudAssistantStatusResponseBodyInstanceCloudAssistantStatusSet,
    ),
    sdk.SdkAssistantStatus: (
        E.DescribeCloudAssistantStatusResponseBodyInstanceCloudAssistantStatusSetInstanceCloudAssistantStatus,
    ),
    sdk.AssumeRoleBody: (sts_models.AssumeRoleResponseBody,),
    sdk.SdkCredentials: (sts_models.AssumeRoleResponseBodyCredentials,),
}
CLIENTS = [
    (sdk.KmsSdk, KmsClient, kms_models),
    (sdk.KmsKeySdk, KmsClient, kms_models),
    (sdk.EcsSdk, EcsClient, ecs_models),
    (sdk.StsSdk, StsClient, sts_models),
]


def fields(shape: type) -> list[str]:
    return sorted(typing.get_type_hints(shape))


def methods(protocol: type) -> list[str]:
    return sorted(name for name in vars(protocol) if name.endswith("_async"))


def test_every_shape_is_checked() -> None:
    clients = {sdk.Response, sdk.KmsSdk, sdk.KmsKeySdk, sdk.EcsSdk, sdk.StsSdk}
    shapes = {getattr(sdk, name) for name in sdk.__all__} - clients
    assert shapes == set(SHAPES)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda shape: shape.__name__)
def test_each_field_we_read_is_one_the_sdk_model_has(shape: type) -> None:
    for model in SHAPES[shape]:
        instance = model()
        assert [f for f in fields(shape) if not hasattr(instance, f)] == [], model.__name__


@pytest.mark.parametrize("protocol, client, models", CLIENTS, ids=["kms", "kms keys", "ecs", "sts"])
def test_each_method_we_call_is_the_clients_and_answers_the_body_we_read(
    protocol: type, client: type, models: ModuleType
) -> None:
    assert methods(protocol)
    for name in methods(protocol):
        assert callable(getattr(client, name, None)), name
        action = re.sub(r"(?:^|_)([a-z])", lambda m: m[1].upper(), name.removesuffix("_async"))
        response = getattr(models, f"{action}Response")().from_map({"body": {}})
        (shape,) = typing.get_args(typing.get_type_hints(getattr(protocol, name))["return"])
        assert type(response.body) in SHAPES[shape], name
