"""The re-deploy check (amplitude_laptop/deploy_check.py) on recorded answers of the
documented shapes: DESC INTEGRATION rows (property, property_value) and SHOW STAGES rows
(name, database_name, schema_name, url)."""

from __future__ import annotations

import pytest

from amplitude_laptop.deploy_check import (
    Deployed,
    integration_values,
    mismatch,
    stage_url,
)

URL = "s3://example-bucket/amplitude/"
ARN = "arn:aws:iam::123456789012:role/snowflake-amplitude"
DESCRIBED = [
    {"property": "ENABLED", "property_type": "Boolean", "property_value": "true"},
    {"property": "STORAGE_PROVIDER", "property_type": "String", "property_value": "S3"},
    {"property": "STORAGE_ALLOWED_LOCATIONS", "property_type": "List", "property_value": URL},
    {"property": "STORAGE_AWS_ROLE_ARN", "property_type": "String", "property_value": ARN},
    {
        "property": "STORAGE_AWS_EXTERNAL_ID",
        "property_type": "String",
        "property_value": "AB12345_SFCRole=2_abcdefg=",
    },
]
STAGES = [
    {"name": "AMPLITUDE_STAGE", "database_name": "OTHER", "schema_name": "INGEST", "url": "x"},
    {"name": "AMPLITUDE_STAGE", "database_name": "AMPLITUDE", "schema_name": "INGEST", "url": URL},
]


def test_the_deployed_values_are_read_from_desc_integration_and_show_stages() -> None:
    assert integration_values(DESCRIBED) == ((URL,), ARN)
    assert stage_url(STAGES, "amplitude") == URL
    assert stage_url(STAGES, "ELSEWHERE") is None


def test_a_new_account_and_the_same_values_go_on() -> None:
    assert mismatch(Deployed(None, None, None), URL, ARN, "AMPLITUDE") is None
    assert mismatch(Deployed((URL,), ARN, URL), URL, ARN, "AMPLITUDE") is None


@pytest.mark.parametrize(
    ("deployed", "named"),
    [
        (
            Deployed(("s3://old-bucket/amplitude/",), ARN, "s3://old-bucket/amplitude/"),
            [
                "storage integration AMPLITUDE_S3 allows s3://old-bucket/amplitude/, this deploy "
                f"asks for S3_URL={URL}",
                "stage AMPLITUDE.INGEST.AMPLITUDE_STAGE points at s3://old-bucket/amplitude/",
            ],
        ),
        (
            Deployed((URL,), "arn:aws:iam::123456789012:role/old", URL),
            [
                "storage integration AMPLITUDE_S3 assumes arn:aws:iam::123456789012:role/old, "
                f"this deploy asks for S3_ROLE_ARN={ARN}"
            ],
        ),
        (
            Deployed((URL,), ARN, "s3://example-bucket/elsewhere/"),
            ["stage AMPLITUDE.INGEST.AMPLITUDE_STAGE points at s3://example-bucket/elsewhere/"],
        ),
    ],
    ids=["another-bucket", "another-role", "stage-moved-by-hand"],
)
def test_another_bucket_or_role_stops_the_deploy_naming_it_and_the_way_out(
    deployed: Deployed, named: list[str]
) -> None:
    message = mismatch(deployed, URL, ARN, "AMPLITUDE")
    assert message is not None
    assert message.startswith("make deploy stopped before changing anything")
    for text in named:
        assert text in message
    # Both ways out: keep the deployed values, or move deliberately, then the new trust.
    old_arn = deployed.role_arn
    assert f"make deploy S3_URL={deployed.stage_url} S3_ROLE_ARN={old_arn} ..." in message
    assert (
        f"alter storage integration amplitude_s3 set storage_aws_role_arn = '{ARN}' "
        f"storage_allowed_locations = ('{URL}');" in message
    )
    assert f"alter stage amplitude.ingest.amplitude_stage set url = '{URL}';" in message
    assert "desc integration amplitude_s3;" in message
    assert "STORAGE_AWS_EXTERNAL_ID" in message
