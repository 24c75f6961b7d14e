"""KMS Encrypt, Decrypt and GenerateDataKey for the data key, through the real SDK to the
sandbox: a blob comes back to the same bytes, only with its EncryptionContext, only in its
key's region, and a key that does not exist is a CloudError naming it."""

from __future__ import annotations

import pytest

from ecs_secret_bot.cloud.gateway import AlibabaCloudGateway
from ecs_secret_bot.errors import CloudError, CloudPermissionDenied
from ecs_secret_bot.sandbox import Sandbox
from ecs_secret_bot.sandbox.kms_keys import grant_key_use

CONTEXT = {"purpose": "ecs-secret-bot data key"}


async def test_a_wrapped_key_comes_back_with_its_context_only(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    key_id = sandbox.keys.create_key("cn-hangzhou", alias="alias/bot")
    grant_key_use(sandbox.access, "cn-hangzhou", key_id)
    wrapper = gateway.key_wrapper("cn-hangzhou", "alias/bot")
    data_key = bytes(range(32))
    blob = await wrapper.encrypt(data_key, context=CONTEXT)
    assert sandbox.keys.decrypt("cn-hangzhou", blob, CONTEXT) == (key_id, data_key)
    assert await wrapper.decrypt(blob, context=CONTEXT) == data_key
    with pytest.raises(CloudError) as caught:
        await wrapper.decrypt(blob, context={"purpose": "something else"})
    assert caught.value.code == "InvalidParameter"
    with pytest.raises(CloudError):  # a blob decrypts in its key's region only
        await gateway.key_wrapper("cn-shanghai", "alias/bot").decrypt(blob, context=CONTEXT)
    generated, generated_blob = await wrapper.generate(context=CONTEXT)
    assert len(generated) == 32
    assert await wrapper.decrypt(generated_blob, context=CONTEXT) == generated
    assert sandbox.calls.total("GenerateDataKey") == 1


async def test_an_unknown_key_is_named(gateway: AlibabaCloudGateway) -> None:
    with pytest.raises(CloudError) as caught:
        await gateway.key_wrapper("cn-hangzhou", "key-nonexistent").generate(context=CONTEXT)
    assert caught.value.code == "Forbidden.KeyNotFound"
    assert caught.value.action == "GenerateDataKey"


async def test_a_key_the_bot_was_not_allowed_to_use_is_a_missing_permission(
    gateway: AlibabaCloudGateway, sandbox: Sandbox
) -> None:
    # The shipped policy does not cover the data key: the operator grants it on that key.
    sandbox.keys.create_key("cn-hangzhou", alias="alias/not-granted")
    with pytest.raises(CloudPermissionDenied) as caught:
        await gateway.key_wrapper("cn-hangzhou", "alias/not-granted").encrypt(
            bytes(32), context=CONTEXT
        )
    assert caught.value.permission == "kms:Encrypt"
