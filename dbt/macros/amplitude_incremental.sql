{#-
    How incremental runs know what is new (see DECISIONLOG, "Incremental by what was
    loaded"). Every row a model writes carries `built_at`, the start of the dbt run that
    wrote it; each incremental model reads only the upstream rows built after its watermark
    (amplitude_watermarks.sql) and the versions staging retired after it
    (amplitude_retired_events.sql). Here: the run's time, what changed since a watermark,
    and the two incremental strategies.
-#}

{#- A timestamp value as a typed SQL literal. -#}
{% macro amplitude_timestamp_literal(value) -%}
    cast('{{ value.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ amplitude_timestamp_type() }})
{%- endmacro %}


{#- When this dbt run started (UTC): the `built_at` of every row it writes. -#}
{% macro amplitude_built_at() -%}
    {{ amplitude_timestamp_literal(run_started_at.astimezone(modules.pytz.utc)) }}
{%- endmacro %}


{#-
    The events that changed since the model's watermark: every row staging wrote after it
    and every version staging retired after it, with the columns that place an event in a
    mart's grain (user, session, day, type, time). A retired version has the values it had
    when a mart last read it, so both the keys an event left and those it joined are touched.
-#}
{% macro amplitude_changed_events(since) -%}
    select
        {{ amplitude_retired_event_columns() | join(',\n        ') }}
    from {{ ref('stg_amplitude__events') }}
    where built_at > {{ since }}
    union all
    select
        {{ amplitude_retired_event_columns() | join(',\n        ') }}
    from {{ amplitude_retired_events_relation() }}
    where retired_at > {{ since }}
{%- endmacro %}


{#-
    Incremental strategy of staging: save the version each row of the batch replaces or
    removes (the held row of its key) as retired, delete the keys of its tombstones (events
    forgotten), then MERGE the rest by key.
-#}
{% macro get_incremental_amplitude_merge_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set batch = arg_dict['temp_relation'] -%}
    insert into {{ amplitude_retired_events_relation() }} (
        {{ amplitude_retired_event_columns() | join(', ') }}, retired_at
    )
    select
        {% for column in amplitude_retired_event_columns() -%}
        held.{{ column }},
        {% endfor -%}
        {{ amplitude_built_at() }}
    from {{ target }} as held
    where held.event_key in (select batch.event_key from {{ batch }} as batch);
    delete from {{ target }}
    where event_key in (
        select batch.event_key from {{ batch }} as batch where batch.built_at is null
    );
    {{ get_merge_sql(
        target,
        '(select * from ' ~ batch ~ ' where built_at is not null)',
        arg_dict['unique_key'],
        arg_dict['dest_columns'],
        arg_dict['incremental_predicates'],
    ) }}
{%- endmacro %}


{#-
    Incremental strategy of the marts: delete every key in the batch, then insert the
    batch's rows but its tombstones. A tombstone (a row with `built_at` null, from
    amplitude_tombstones) deletes a key the run touched and no longer builds: a session
    whose events all moved to another, a repeat group that fell under the threshold. A
    plain delete+insert deletes only the keys it writes, so such rows would stay.
-#}
{% macro get_incremental_amplitude_replace_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set batch = arg_dict['temp_relation'] -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }}
    where {{ key }} in (select batch.{{ key }} from {{ batch }} as batch);
    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ batch }}
    where built_at is not null
{%- endmacro %}


{#-
    `union all` tombstones for the rows of this model that match `where`: their columns as
    built, `built_at` null. Put after a model's rows on an incremental run (same columns, in
    the table's order, which is the model's own). Unit tests, whose `this` is a CTE of given
    rows, override it with "".
-#}
{% macro amplitude_tombstones(where) -%}
    {%- set columns = adapter.get_columns_in_relation(this) if execute else [] -%}
    union all
    select
        {%- for column in columns %}
        {% if column.name | lower == 'built_at' -%}
            cast(null as {{ amplitude_timestamp_type() }}) as built_at
        {%- else -%}
            tombstone.{{ column.name | lower }}
        {%- endif %}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ this }} as tombstone
    where {{ where }}
{%- endmacro %}



{#-
    Bounds of a query's single row of (lower_bound, upper_bound) timestamps, as literals, or
    none when the query found nothing. Used to turn "the rows of these loads" into a
    constant range that DuckDB pushes below the JSON parse and Snowflake prunes
    micro-partitions with; neither does that for a join or a subquery. The bounds travel as
    text the warehouse writes at its own precision, never through a Python datetime:
    Snowflake's load times (`timestamp_ntz`, nanoseconds) would round to microseconds and
    an upper bound below the last row would skip it.
-#}
{% macro amplitude_time_bounds(query) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set exact_query -%}
        select
            {{ amplitude_timestamp_text_exact('bounds.lower_bound') }} as lower_bound,
            {{ amplitude_timestamp_text_exact('bounds.upper_bound') }} as upper_bound
        from ({{ query }}) as bounds
    {%- endset -%}
    {%- set row = run_query(exact_query).rows[0] -%}
    {%- if row[0] is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set type = amplitude_timestamp_type() -%}
    {{ return([
        "cast('" ~ row[0] ~ "' as " ~ type ~ ")",
        "cast('" ~ row[1] ~ "' as " ~ type ~ ")",
    ]) }}
{%- endmacro %}


{#-
    The days the date spine covers, as [first, last] date literals: the vars
    `amplitude__date_range_start` and `amplitude__date_range_end` (Fivetran's names), the
    end today (UTC, when the run started) unless set. Events dated outside are kept in
    staging and left out of the day-grain model.
-#}
{% macro amplitude_date_range() -%}
    {%- set start = var('amplitude__date_range_start') -%}
    {%- set end = var('amplitude__date_range_end') -%}
    {%- if end is none or end == '' -%}
        {%- set end = run_started_at.astimezone(modules.pytz.utc).date() -%}
    {%- endif -%}
    {{ return(["cast('" ~ start ~ "' as date)", "cast('" ~ end ~ "' as date)"]) }}
{%- endmacro %}


{#-
    A condition: the event in `relation` matches a forget request in `requests` (kind and
    SHA-256 of the id's text; amplitude_id as its decimal text). Three equalities on a
    hash, so each warehouse can answer with a hash join.
-#}
{% macro amplitude_forgotten(relation, requests) -%}
    (
        {%- for kind, text in [
            ('amplitude_id', 'cast(' ~ relation ~ '.amplitude_id as ' ~ dbt.type_string() | lower ~ ')'),
            ('user_id', relation ~ '.user_id'),
            ('device_id', relation ~ '.device_id'),
        ] %}
        {% if not loop.first %}or {% endif %}exists (
            select 1
            from {{ requests }} as request
            where
                request.id_kind = '{{ kind }}'
                and request.id_sha256 = {{ amplitude_sha256(text) }}
        )
        {%- endfor %}
    )
{%- endmacro %}

{#- Lowercase hex SHA-256 of a text (what a forget request records). -#}
{% macro amplitude_sha256(text) -%}
    {{ return(adapter.dispatch('amplitude_sha256', 'amplitude')(text)) }}
{%- endmacro %}

{% macro default__amplitude_sha256(text) -%}
    sha256({{ text }})
{%- endmacro %}

{% macro snowflake__amplitude_sha256(text) -%}
    sha2({{ text }}, 256)
{%- endmacro %}
