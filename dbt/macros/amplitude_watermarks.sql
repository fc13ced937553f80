{#-
    State in the open: the watermark table, `analytics_staging.amplitude__watermarks`
    (see DECISIONLOG, "Incremental by what was loaded"; models/overview.md, "State dbt
    keeps beside the models"). One row per incremental model and build: `model_name` (the
    model's table) and `processed_through`, the start of the run that built it, or less
    (below). Created by on-run-start (amplitude_create_watermarks_table), written by every
    incremental model's post-hook (amplitude_save_watermark), read by its next run
    (amplitude_watermark_value): upstream rows with `built_at` after it are new to the
    model. Kept apart from the model's rows so that it moves on even when a run writes
    nothing to the model (a batch with no repeat clicks, say), and does not move when the
    model fails. Tested by tests/integration/test_dbt_watermarks.py.
-#}

{#- The watermark table, as a relation. -#}
{% macro amplitude_watermarks_relation() -%}
    {%- set schema = generate_schema_name('staging', none) | trim -%}
    {{ return(api.Relation.create(
        database=target.database, schema=schema, identifier='amplitude__watermarks'
    )) }}
{%- endmacro %}


{#- on-run-start: the watermark table, created once. -#}
{% macro amplitude_create_watermarks_table() -%}
    {%- set relation = amplitude_watermarks_relation() -%}
    {%- set text = dbt.type_string() | lower -%}
    {%- do adapter.create_schema(relation) -%}
    create table if not exists {{ relation }} (
        model_name {{ text }} not null,
        processed_through {{ amplitude_timestamp_type() }} not null
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
