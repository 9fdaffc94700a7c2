"""The dead-letter queue can actually receive something: failed asynchronous (Event) invocations.

Lambda only dead-letters asynchronous invocations, after its retries. The SQL layer invokes writes as
Event with `raise_on_error: true` (docs/payload-contract.md), so a failed write becomes a function
error that is retried and then sent here.
"""

from __future__ import annotations

from cfn_template import REPO, evaluate, properties, resources


def test_function_dead_letters_to_the_encrypted_queue() -> None:
    function = properties("VectorQueryFunction")
    assert evaluate(function["DeadLetterConfig"]["TargetArn"]) == "<DeadLetterQueue.Arn>"
    queue = properties("DeadLetterQueue")
    assert queue.get("KmsMasterKeyId") or queue.get("SqsManagedSseEnabled")
    # Fourteen days: the SQS maximum, time to inspect and replay.
    assert queue["MessageRetentionPeriod"] == 1209600


def test_async_retry_policy_is_pinned_for_the_unqualified_function() -> None:
    (config,) = resources("AWS::Lambda::EventInvokeConfig").values()
    props = config["Properties"]
    assert evaluate(props["FunctionName"]) == "<VectorQueryFunction>"
    # The SQL layer invokes the unqualified ARN, which runs $LATEST.
    assert props["Qualifier"] == "$LATEST"
    assert props["MaximumRetryAttempts"] == 2
    assert 60 <= props["MaximumEventAgeInSeconds"] <= 21600


def test_payload_contract_offers_the_asynchronous_failure_path() -> None:
    contract = (REPO / "docs" / "payload-contract.md").read_text()
    assert "`raise_on_error`" in contract
    guide = (REPO / "docs" / "deployment.md").read_text()
    assert "raise_on_error" in guide and "Event" in guide
