{#-
    State in the open: which key formula each model's table was built with,
    `analytics_staging.amplitude__key_formulas` (see DECISIONLOG, "Keys: null is not ''";
    models/overview.md). One row per (model, formula): created by on-run-start, written by
    every incremental model's post-hook, checked before an incremental run reads its
    watermark. The formula's version is amplitude_key_formula_version (amplitude_keys.sql,
    beside the formula). Tested by tests/integration/test_dbt_keys.py.
-#}

{#- The key-formula table, as a relation. -#}
{% macro amplitude_key_formulas_relation() -%}
    {%- set schema = generate_schema_name('staging', none) | trim -%}
    {{ return(api.Relation.create(
        database=target.database, schema=schema, identifier='amplitude__key_formulas'
    )) }}
{%- endmacro %}


{#- on-run-start: the key-formula table, created once. -#}
{% macro amplitude_create_key_formulas_table() -%}
    {%- set text = dbt.type_string() | lower -%}
    create table if not exists {{ amplitude_key_formulas_relation() }} (
        model_name {{ text }} not null,
        key_formula {{ text }} not null
    )
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
