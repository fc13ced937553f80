{#-
    `as {{ amplitude_inline() }} (`: a CTE the query reads more than once, over many rows,
    and whose readers each filter it. DuckDB materializes such a CTE in full (every row,
    every column read anywhere) unless told `not materialized`; inlined, each reader's
    filter is pushed into its own scan. Snowflake has no such hint and decides itself.
-#}
{% macro amplitude_inline() -%}
    {{ return(adapter.dispatch('amplitude_inline', 'amplitude')()) }}
{%- endmacro %}

{% macro default__amplitude_inline() -%}
    not materialized
{%- endmacro %}

{% macro snowflake__amplitude_inline() -%}
{%- endmacro %}
