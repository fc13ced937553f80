{#- A surrogate key: md5 of the parts joined with '|' (nulls as empty text). Portable. -#}
{% macro amplitude_surrogate_key(parts) -%}
    md5(
        {%- for part in parts %}
        coalesce(cast({{ part }} as {{ dbt.type_string() }}), '')
        {%- if not loop.last %} || '|' ||{% endif %}
        {%- endfor %}
    )
{%- endmacro %}


{#- Seconds between two timestamps, with milliseconds kept (rage clicks are sub-second). -#}
{% macro amplitude_seconds_between(start, end) -%}
    {{ dbt.datediff(start, end, 'millisecond') }} / 1000.0
{%- endmacro %}


{#-
    The incremental high-water mark minus the lookback, on load time, as a literal.
    Looked up before the model runs so that the filter is a constant: DuckDB pushes a
    constant below the JSON parsing of the base view, and Snowflake prunes micro-partitions
    with it; neither does that for a scalar subquery.
-#}
{% macro amplitude_incremental_since(column='loaded_at') -%}
    {%- if execute -%}
        {%- set query -%}
            select cast({{ dbt.dateadd('day', -1 * var('amplitude__lookback_days'), 'max(' ~ column ~ ')') }}
                as {{ dbt.type_timestamp() }})
            from {{ this }}
        {%- endset -%}
        {%- set since = run_query(query).columns[0].values()[0] -%}
    {%- endif -%}
    {%- if since is none or since is not defined -%}
        cast('1900-01-01' as {{ dbt.type_timestamp() }})
    {%- else -%}
        cast('{{ since }}' as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}
