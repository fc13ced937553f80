{#-
    JSON access, the one place where the two warehouses differ in how raw events are read.
    Keys are passed as a list so that names with spaces, brackets and `$` need no quoting
    by the caller: ['event_properties', '[Amplitude] Page Title'].

    Snowflake: bracket notation on the VARIANT (not `raw:"$insert_id"`: bracket access
    works for any key and parses in every tool). DuckDB: a JSON pointer.
-#}

{% macro amplitude__json_pointer(keys) -%}
    {%- set escaped = [] -%}
    {%- for key in keys -%}
        {%- do escaped.append(key | replace('~', '~0') | replace('/', '~1') | replace("'", "''")) -%}
    {%- endfor -%}
    '/{{ escaped | join("/") }}'
{%- endmacro %}

{% macro amplitude__snowflake_path(column, keys) -%}
    {{ column }}{% for key in keys %}['{{ key | replace("'", "''") }}']{% endfor %}
{%- endmacro %}


{#- A JSON value as text; JSON null and a missing key both give SQL null. -#}
{% macro amplitude_json_text(column, keys) -%}
    {{ return(adapter.dispatch('amplitude_json_text', 'amplitude')(column, keys)) }}
{%- endmacro %}

{% macro default__amplitude_json_text(column, keys) -%}
    json_extract_string({{ column }}, {{ amplitude__json_pointer(keys) }})
{%- endmacro %}

{% macro snowflake__amplitude_json_text(column, keys) -%}
    {{ amplitude__snowflake_path(column, keys) }}::varchar
{%- endmacro %}


{#- A JSON value as a number; text that is not a number gives null. -#}
{% macro amplitude_json_number(column, keys, type='bigint') -%}
    try_cast({{ amplitude_json_text(column, keys) }} as {{ type }})
{%- endmacro %}


{#- A JSON object or array kept as JSON (VARIANT on Snowflake). -#}
{% macro amplitude_json_value(column, keys) -%}
    {{ return(adapter.dispatch('amplitude_json_value', 'amplitude')(column, keys)) }}
{%- endmacro %}

{% macro default__amplitude_json_value(column, keys) -%}
    json_extract({{ column }}, {{ amplitude__json_pointer(keys) }})
{%- endmacro %}

{% macro snowflake__amplitude_json_value(column, keys) -%}
    {{ amplitude__snowflake_path(column, keys) }}
{%- endmacro %}


{#-
    Amplitude timestamps are UTC text without a zone, `2026-01-26 11:03:12.123456`.
    A value that does not parse becomes null instead of failing the model; the test
    `assert_timestamps_parse` counts them against var('amplitude__max_unparseable_timestamps').
-#}
{% macro amplitude_timestamp(text) -%}
    {{ return(adapter.dispatch('amplitude_timestamp', 'amplitude')(text)) }}
{%- endmacro %}

{% macro default__amplitude_timestamp(text) -%}
    try_cast({{ text }} as timestamp)
{%- endmacro %}

{% macro snowflake__amplitude_timestamp(text) -%}
    try_to_timestamp_ntz({{ text }})
{%- endmacro %}
