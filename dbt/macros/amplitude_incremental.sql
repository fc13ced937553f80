{#-
    How incremental runs know what is new (see DECISIONLOG, "Incremental by what was
    loaded"). Every row a model writes carries `built_at`, the start of the dbt run that
    wrote it. Each incremental model records, after it has been built, the start of that
    run as its watermark in `amplitude__watermarks`; its next run reads only the upstream
    rows built after it. The watermark is kept apart from the model's rows so that it moves
    on even when a run writes nothing to the model (a batch with no repeat clicks, say).
-#}

{#- A timestamp value as a typed SQL literal. -#}
{% macro amplitude_timestamp_literal(value) -%}
    cast('{{ value.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ amplitude_timestamp_type() }})
{%- endmacro %}


{#- When this dbt run started (UTC): the `built_at` of every row it writes. -#}
{% macro amplitude_built_at() -%}
    {{ amplitude_timestamp_literal(run_started_at.astimezone(modules.pytz.utc)) }}
{%- endmacro %}


{% macro amplitude__watermarks() -%}
    {%- set schema = generate_schema_name('staging', none) | trim -%}
    {{ return(api.Relation.create(
        database=target.database, schema=schema, identifier='amplitude__watermarks'
    )) }}
{%- endmacro %}


{#- on-run-start: the watermark table, created once. -#}
{% macro amplitude_create_watermarks() -%}
    {%- set relation = amplitude__watermarks() -%}
    {%- do adapter.create_schema(relation) -%}
    create table if not exists {{ relation }} (
        model_name {{ dbt.type_string() | lower }} not null,
        processed_through {{ amplitude_timestamp_type() }} not null
    )
{%- endmacro %}


{#- post-hook of every incremental model: it has processed everything built before now. -#}
{% macro amplitude_save_watermark() -%}
    {%- if config.get('materialized') == 'incremental' -%}
        insert into {{ amplitude__watermarks() }} (model_name, processed_through)
        values ('{{ this.identifier }}', {{ amplitude_built_at() }})
    {%- endif -%}
{%- endmacro %}


{#-
    The model's watermark as a literal: upstream rows with `built_at` after it are new to
    the model. No watermark (the table was built before watermarks existed, or the table
    holding them was dropped) means everything is new: correct, and as costly as a full
    build. Call it only inside `is_incremental()`; unit tests override it.
-#}
{% macro amplitude_watermark() -%}
    {%- if not execute -%}
        {{ return(amplitude_timestamp_literal(modules.datetime.datetime(1900, 1, 1))) }}
    {%- endif -%}
    {%- set query -%}
        select max(processed_through) as processed_through
        from {{ amplitude__watermarks() }}
        where model_name = '{{ this.identifier }}'
    {%- endset -%}
    {%- set processed_through = run_query(query).columns[0].values()[0] -%}
    {%- if processed_through is none -%}
        {%- set processed_through = modules.datetime.datetime(1900, 1, 1) -%}
    {%- endif -%}
    {{ return(amplitude_timestamp_literal(processed_through)) }}
{%- endmacro %}


{#-
    Bounds of a query's single row of (min, max) timestamps, as literals, or none when
    the query found nothing. Used to turn "the rows of these loads" into a constant range
    that DuckDB pushes below the JSON parse and Snowflake prunes micro-partitions with;
    neither does that for a join or a subquery.
-#}
{% macro amplitude_time_bounds(query) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set row = run_query(query).rows[0] -%}
    {%- if row[0] is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return([amplitude_timestamp_literal(row[0]), amplitude_timestamp_literal(row[1])]) }}
{%- endmacro %}


{#-
    The days a day-grain model lays out, as [first day, day after the last] date literals
    (what dbt.date_spine takes), or none when there is nothing to lay out: the days of the
    `events` (a relation with `event_date` and `built_at`) built after `since`, and every
    day between the last day the model has built and the new last day. On a full build
    (`since` undefined or none), the days of all events.
-#}
{% macro amplitude_day_span(events, since=none) -%}
    {#- Compiling on a warehouse where the events are not built yet: nothing to lay out. -#}
    {%- if not execute or load_relation(events) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set incremental = since is defined and since is not none -%}
    {%- set query -%}
        select
            min(event_date) as first_day,
            max(event_date) as last_day,
            {% if incremental -%}
                (select max(built.event_date) from {{ this }} as built)
            {%- else -%}
                cast(null as date)
            {%- endif %} as last_day_built
        from {{ events }}
        {%- if incremental %}
        where built_at > {{ since }}
        {%- endif %}
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {%- if row[0] is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set one_day = modules.datetime.timedelta(days=1) -%}
    {%- set first_day = row[0] -%}
    {%- set last_day = row[1] -%}
    {%- if row[2] is not none -%}
        {%- set first_day = [first_day, row[2] + one_day] | min -%}
        {%- set last_day = [last_day, row[2]] | max -%}
    {%- endif -%}
    {{ return([
        "cast('" ~ first_day ~ "' as date)",
        "cast('" ~ (last_day + one_day) ~ "' as date)",
    ]) }}
{%- endmacro %}
