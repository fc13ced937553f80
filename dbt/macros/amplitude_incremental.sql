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


{#-
    Bookkeeping, not a model: the versions of events that staging replaced by another copy
    (a copy that came first, maybe with another time, day, session or user) or removed (a
    forget request), written by staging as it replaces or removes them, with `retired_at`
    set to the run. A mart treats the grain keys of a retired version as touched, exactly as
    it treats those of a row staging wrote: the keys an event leaves are rebuilt too.
-#}
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


{% macro amplitude_watermarks_relation() -%}
    {%- set schema = generate_schema_name('staging', none) | trim -%}
    {{ return(api.Relation.create(
        database=target.database, schema=schema, identifier='amplitude__watermarks'
    )) }}
{%- endmacro %}


{#- on-run-start: the bookkeeping tables (watermarks, retired events), created once. -#}
{% macro amplitude_create_watermarks_table() -%}
    {%- set relation = amplitude_watermarks_relation() -%}
    {%- set text = dbt.type_string() | lower -%}
    {%- do adapter.create_schema(relation) -%}
    create table if not exists {{ relation }} (
        model_name {{ text }} not null,
        processed_through {{ amplitude_timestamp_type() }} not null
    )
{%- endmacro %}

{#- on-run-start: which key formula each model's table was built with. -#}
{% macro amplitude_create_key_formulas_table() -%}
    {%- set text = dbt.type_string() | lower -%}
    create table if not exists {{ amplitude_key_formulas_relation() }} (
        model_name {{ text }} not null,
        key_formula {{ text }} not null
    )
{%- endmacro %}

{% macro amplitude_key_formulas_relation() -%}
    {%- set schema = generate_schema_name('staging', none) | trim -%}
    {{ return(api.Relation.create(
        database=target.database, schema=schema, identifier='amplitude__key_formulas'
    )) }}
{%- endmacro %}

{% macro amplitude_create_retired_events_table() -%}
    {%- set text = dbt.type_string() | lower -%}
    create table if not exists {{ amplitude_retired_events_relation() }} (
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


{#-
    post-hook of every incremental model: it has processed everything built before now,
    but no further than each incremental model it reads had processed when it read it. A
    model built while a model it reads is stale (`dbt build -s amplitude__event_enhanced`)
    keeps its watermark at that model's, so its next run reads the changes again, once the
    model it reads has caught up: a model notices what changed in every model it reads.
-#}
{% macro amplitude_save_watermark() -%}
    {%- if config.get('materialized') == 'incremental' -%}
        {%- set parents = [] -%}
        {%- for node_id in model.depends_on.nodes if node_id.startswith('model.') -%}
            {%- set node = graph.nodes.get(node_id) -%}
            {%- if node is not none and node.config.materialized == 'incremental' -%}
                {%- do parents.append(node.alias or node.name) -%}
            {%- endif -%}
        {%- endfor -%}
        insert into {{ amplitude_watermarks_relation() }} (model_name, processed_through)
        select
            '{{ this.identifier }}',
            {%- if parents %}
            least({{ amplitude_built_at() }}, coalesce(min(processed_through), {{ amplitude_built_at() }}))
        from (
            select max(processed_through) as processed_through
            from {{ amplitude_watermarks_relation() }}
            where model_name in ('{{ parents | join("', '") }}')
            group by model_name
        ) as parent_watermarks
            {%- else %}
            {{ amplitude_built_at() }}
            {%- endif %}
    {%- endif -%}
{%- endmacro %}


{#-
    The model's watermark as a literal: upstream rows with `built_at` after it are new to
    the model. No watermark (the table was built before watermarks existed, or the table
    holding them was dropped) means everything is new: correct, and as costly as a full
    build. Call it only inside `is_incremental()`; unit tests override it.
-#}
{% macro amplitude_watermark_value() -%}
    {%- if not execute -%}
        {{ return(amplitude_timestamp_literal(modules.datetime.datetime(1900, 1, 1))) }}
    {%- endif -%}
    {%- set query -%}
        select max(processed_through) as processed_through
        from {{ amplitude_watermarks_relation() }}
        where model_name = '{{ this.identifier }}'
    {%- endset -%}
    {%- set processed_through = run_query(query).columns[0].values()[0] -%}
    {%- do amplitude__check_key_formula() -%}
    {%- if processed_through is none -%}
        {%- set processed_through = modules.datetime.datetime(1900, 1, 1) -%}
    {%- endif -%}
    {{ return(amplitude_timestamp_literal(processed_through)) }}
{%- endmacro %}


{#- post-hook of every incremental model: the key formula its table is built with. -#}
{% macro amplitude_save_key_formula() -%}
    {%- if config.get('materialized') == 'incremental' -%}
        insert into {{ amplitude_key_formulas_relation() }} (model_name, key_formula)
        select '{{ this.identifier }}', '{{ amplitude_key_formula_version() }}'
        where not exists (
            select 1
            from {{ amplitude_key_formulas_relation() }}
            where
                model_name = '{{ this.identifier }}'
                and key_formula = '{{ amplitude_key_formula_version() }}'
        )
    {%- endif -%}
{%- endmacro %}


{#-
    An incremental run merges new keys into the table's: both must come from one formula.
    A table built by an earlier version of the models (another formula, or none recorded)
    is refused, never mixed.
-#}
{% macro amplitude__check_key_formula() -%}
    {%- set query -%}
        select key_formula
        from {{ amplitude_key_formulas_relation() }}
        where model_name = '{{ this.identifier }}'
    {%- endset -%}
    {%- set formulas = run_query(query).columns[0].values() -%}
    {%- if amplitude_key_formula_version() not in formulas -%}
        {{ exceptions.raise_compiler_error(
            this.identifier ~ " was built with another key formula ("
            ~ (formulas | join(', ') or 'an earlier version of these models') ~ "; now "
            ~ amplitude_key_formula_version() ~ "): its stored keys would not match the new ones."
            ~ " Run `dbt build --full-refresh` once to rebuild every model with the new keys."
        ) }}
    {%- endif -%}
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
