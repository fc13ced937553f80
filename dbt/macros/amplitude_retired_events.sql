{#-
    State in the open: the retired versions of events,
    `analytics_staging.amplitude__retired_events` (see DECISIONLOG, "Which copy of an event
    staging keeps" and "Forgetting a user"; models/overview.md, "State dbt keeps beside the
    models"). Bookkeeping, not a model: the versions of events that staging replaced by
    another copy (a copy that came first, maybe with another time, day, session or user) or
    removed (a forget request), written by staging's strategy (amplitude_merge) as it
    replaces or removes them, with `retired_at` set to the run. A mart treats the grain keys
    of a retired version as touched, exactly as it treats those of a row staging wrote
    (amplitude_changed_events): the keys an event leaves are rebuilt too. Its keys derive
    from ids, so it is kept only until every mart has read it (amplitude_prune_retired_events,
    on-run-end). Tested by tests/integration/test_dbt_retired_events.py.
-#}

{#- The retired-versions table, as a relation. -#}
{% macro amplitude_retired_events_relation() -%}
    {%- set schema = generate_schema_name('staging', none) | trim -%}
    {{ return(api.Relation.create(
        database=target.database, schema=schema, identifier='amplitude__retired_events'
    )) }}
{%- endmacro %}

{#- The columns of a retired version, as staging has them. -#}
{% macro amplitude_retired_event_columns() -%}
    {{ return([
        'event_key', 'project_id', 'user_key', 'amplitude_id', 'session_key', 'event_type',
        'event_date', 'event_time',
    ]) }}
{%- endmacro %}


{#-
    on-run-start: the retired-versions table, created once. On Snowflake a transient table,
    as dbt-snowflake creates the models: no Fail-safe period, so a version deleted by the
    prune is kept no longer than the table's Time Travel retention, as the models' rows
    are (https://docs.snowflake.com/en/user-guide/tables-temp-transient). A table created
    permanent by an earlier version stays so until dropped (it is empty after a complete
    run; the next run creates it again).
-#}
{% macro amplitude_create_retired_events_table() -%}
    {%- set text = dbt.type_string() | lower -%}
    create {{ amplitude_bookkeeping_table_kind() }} if not exists {{ amplitude_retired_events_relation() }} (
        event_key {{ text }} not null,
        project_id bigint,
        user_key {{ text }},
        amplitude_id bigint,
        session_key {{ text }},
        event_type {{ text }},
        event_date date,
        event_time {{ amplitude_timestamp_type() }},
        retired_at {{ amplitude_timestamp_type() }} not null
    )
{%- endmacro %}

{#- `table`, or on Snowflake `transient table` (no Fail-safe). -#}
{% macro amplitude_bookkeeping_table_kind() -%}
    {{ return(adapter.dispatch('amplitude_bookkeeping_table_kind', 'amplitude')()) }}
{%- endmacro %}

{% macro default__amplitude_bookkeeping_table_kind() -%}
    {{ return('table') }}
{%- endmacro %}

{% macro snowflake__amplitude_bookkeeping_table_kind() -%}
    {{ return('transient table') }}
{%- endmacro %}


{#-
    The models that may read the retired versions: every incremental model built on
    staging, directly or through another (their names as their watermarks have them).
    Found from the graph, not from the macros a model calls: dbt records only the calls it
    sees when parsing, and those inside `is_incremental()` it does not.
-#}
{% macro amplitude__retired_event_readers() -%}
    {%- set models = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model') | list -%}
    {%- set downstream = ['model.amplitude.stg_amplitude__events'] -%}
    {%- for _ in models -%}
        {%- for node in models if node.unique_id not in downstream -%}
            {%- for parent in node.depends_on.nodes if parent in downstream -%}
                {%- if loop.first -%}
                    {%- do downstream.append(node.unique_id) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set readers = [] -%}
    {%- for node in models
        if node.unique_id in downstream[1:] and node.config.materialized == 'incremental' -%}
        {%- do readers.append(node.alias or node.name) -%}
    {%- endfor -%}
    {{ return(readers | sort) }}
{%- endmacro %}


{#-
    on-run-end of a run that writes: delete the retired versions every reader has
    processed (retired at or before each reader's watermark: no run reads them again).
    They hold event keys, users (amplitude_id), sessions and days, derived from ids: kept
    only as long as a model still has to rebuild what they left, so a forgotten user's
    retired versions go with the run that removes the user from every model. While a
    reader has no watermark (never built, or its watermark dropped) nothing is deleted.
-#}
{% macro amplitude_prune_retired_events() -%}
    {%- if amplitude__writes() -%}
        {%- set readers = amplitude__retired_event_readers() -%}
        delete from {{ amplitude_retired_events_relation() }}
        {%- if readers %}
        where retired_at <= (
            select
                case
                    when count(watermark.processed_through) = count(*)
                        then min(watermark.processed_through)
                end
            from (
                {%- for reader in readers %}
                select '{{ reader }}' as model_name{% if not loop.last %} union all{% endif %}
                {%- endfor %}
            ) as reader
            left join (
                select model_name, max(processed_through) as processed_through
                from {{ amplitude_watermarks_relation() }}
                group by model_name
            ) as watermark
                on reader.model_name = watermark.model_name
        )
        {%- endif %}
    {%- endif -%}
{%- endmacro %}
