"""The app's forget: the S3 form's procedure over the app's settings, refused with the
app's own words when the app's setup has not provided what it needs."""

from __future__ import annotations


def test_forget_names_the_settings_rows_the_apps_setup_must_provide() -> None:
    from amplitude_ingest.in_snowflake.native_app import forget_step

    assert forget_step.missing_settings(["STAGE", "ledger_table", "forget_requests_table"]) == [
        "stage_rewrites_table",
        "forget_rows_procedure",
    ]
    assert (
        forget_step.missing_settings(
            [
                "ledger_table",
                " Forget_Requests_Table",
                "stage_rewrites_table",
                "forget_rows_procedure",
            ]
        )
        == []
    )
