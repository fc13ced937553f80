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


{#- The incremental high-water mark minus the lookback, on load time. -#}
{% macro amplitude_incremental_since(column='loaded_at') -%}
    (
        select {{ dbt.dateadd('day', -1 * var('amplitude__lookback_days'), 'max(' ~ column ~ ')') }}
        from {{ this }}
    )
{%- endmacro %}
