{#-
    Reading the raw JSON, the one place where the two warehouses differ in how events are
    read. A field is (output column, JSON keys, type), the keys a list so that names with
    spaces, brackets and `$` need no quoting by the caller:
    ('page_title', ['event_properties', '[Amplitude] Page Title'], 'text').
    Types: text, bigint, double, timestamp (UTC text, parsed by amplitude_timestamp) and
    json (kept as JSON on DuckDB, VARIANT on Snowflake).

    DuckDB parses each row once: `json_transform` turns the document into a typed record
    of every top-level field used, and each nested object whose fields are read
    (`event_properties`) is parsed once more, as its own small document, into a list.
    Reading fields one `json_extract` at a time re-parses the whole document per field
    (about 50 times a row here). Snowflake's VARIANT is parsed when it is loaded: bracket
    paths on it cost no parse, so the record is the column itself.
-#}

{#- Parents of nested fields, in the order they first appear. -#}
{% macro amplitude__json_parents(fields) -%}
    {%- set parents = [] -%}
    {%- for field in fields if field[1] | length > 1 and field[1][0] not in parents -%}
        {%- do parents.append(field[1][0]) -%}
    {%- endfor -%}
    {{ return(parents) }}
{%- endmacro %}

{%- macro amplitude__sql_text(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}

{%- macro amplitude__json_pointer(keys) -%}
    {%- set escaped = [] -%}
    {%- for key in keys -%}
        {%- do escaped.append(key | replace('~', '~0') | replace('/', '~1')) -%}
    {%- endfor -%}
    {{ amplitude__sql_text('/' ~ escaped | join('/')) }}
{%- endmacro %}


{#- The parsed record of a raw JSON column (one parse per row on DuckDB). -#}
{% macro amplitude_json_record(column, fields) -%}
    {{ return(adapter.dispatch('amplitude_json_record', 'amplitude')(column, fields)) }}
{%- endmacro %}

{% macro default__amplitude_json_record(column, fields) -%}
    {%- set parents = amplitude__json_parents(fields) -%}
    {%- set structure = {} -%}
    {%- for field in fields -%}
        {%- set key = field[1][0] -%}
        {%- do structure.update({key: 'JSON' if (key in parents or field[2] == 'json') else 'VARCHAR'}) -%}
    {%- endfor -%}
    json_transform({{ column }}, {{ amplitude__sql_text(tojson(structure)) }})
{%- endmacro %}

{% macro snowflake__amplitude_json_record(column, fields) -%}
    {{ column }}
{%- endmacro %}


{#-
    The nested objects' fields, read once per row (DuckDB: one list per parent object,
    named `<record>__<parent>`). Emits nothing on Snowflake, where paths reach them.
    Used as the last item of a select list, after `*`.
-#}
{% macro amplitude_json_nested(record, fields) -%}
    {{ return(adapter.dispatch('amplitude_json_nested', 'amplitude')(record, fields)) }}
{%- endmacro %}

{% macro default__amplitude_json_nested(record, fields) -%}
    {%- for parent in amplitude__json_parents(fields) -%}
        {%- set pointers = [] -%}
        {%- for field in fields if field[1] | length > 1 and field[1][0] == parent -%}
            {%- do pointers.append(amplitude__json_pointer(field[1][1:])) -%}
        {%- endfor -%}
        , json_extract_string({{ record }}."{{ parent | replace('"', '""') }}", [{{ pointers | join(', ') }}])
            as {{ record }}__{{ parent }}
    {%- endfor -%}
{%- endmacro %}

{% macro snowflake__amplitude_json_nested(record, fields) -%}
{%- endmacro %}


{#- One field of the record, typed; JSON null and a missing key both give SQL null. -#}
{% macro amplitude_json_field(record, field, fields) -%}
    {%- set keys = field[1] -%}
    {%- set type = field[2] -%}
    {%- set text = adapter.dispatch('amplitude_json_text', 'amplitude')(record, keys, fields) -%}
    {%- if type == 'text' -%}
        {{ text }}
    {%- elif type in ('bigint', 'double') -%}
        try_cast({{ text }} as {{ type }})
    {%- elif type == 'timestamp' -%}
        {{ amplitude_timestamp(text) }}
    {%- elif type == 'json' -%}
        {{ adapter.dispatch('amplitude_json_value', 'amplitude')(record, keys) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error('unknown JSON field type ' ~ type) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__amplitude_json_text(record, keys, fields) -%}
    {%- if keys | length == 1 -%}
        {{ record }}."{{ keys[0] | replace('"', '""') }}"
    {%- else -%}
        {{ record }}__{{ keys[0] }}[{{ amplitude__nested_position(keys, fields) }}]
    {%- endif -%}
{%- endmacro %}

{#- 1-based position of a nested field in its parent's list. -#}
{% macro amplitude__nested_position(keys, fields) -%}
    {%- set siblings = [] -%}
    {%- for field in fields if field[1] | length > 1 and field[1][0] == keys[0] -%}
        {%- do siblings.append(field[1]) -%}
    {%- endfor -%}
    {{ siblings.index(keys) + 1 }}
{%- endmacro %}

{% macro snowflake__amplitude_json_text(record, keys, fields) -%}
    {{ amplitude__snowflake_path(record, keys) }}::varchar
{%- endmacro %}

{% macro default__amplitude_json_value(record, keys) -%}
    {{ record }}."{{ keys[0] | replace('"', '""') }}"
{%- endmacro %}

{% macro snowflake__amplitude_json_value(record, keys) -%}
    {{ amplitude__snowflake_path(record, keys) }}
{%- endmacro %}

{#- Bracket notation, not `raw:"$insert_id"`: it works for any key and parses everywhere. -#}
{% macro amplitude__snowflake_path(column, keys) -%}
    {{ column }}{% for key in keys %}[{{ amplitude__sql_text(key) }}]{% endfor %}
{%- endmacro %}


{#-
    Amplitude timestamps are UTC text without a zone: `2026-01-26 11:03:12.123456`, or
    without the fraction. Parsed with explicit formats on both warehouses, so the result
    depends neither on DuckDB's cast rules nor on a Snowflake account's
    TIMESTAMP_INPUT_FORMAT. A value that does not parse becomes null instead of failing the
    model; the test `assert_timestamps_parse` counts them.
-#}
{% macro amplitude_timestamp(text) -%}
    {{ return(adapter.dispatch('amplitude_timestamp', 'amplitude')(text)) }}
{%- endmacro %}

{% macro default__amplitude_timestamp(text) -%}
    try_strptime({{ text }}, ['%Y-%m-%d %H:%M:%S.%f', '%Y-%m-%d %H:%M:%S'])
{%- endmacro %}

{% macro snowflake__amplitude_timestamp(text) -%}
    coalesce(
        try_to_timestamp_ntz({{ text }}, 'YYYY-MM-DD HH24:MI:SS.FF'),
        try_to_timestamp_ntz({{ text }}, 'YYYY-MM-DD HH24:MI:SS')
    )
{%- endmacro %}


{#- The timestamp type, explicit: `timestamp` on Snowflake follows TIMESTAMP_TYPE_MAPPING. -#}
{% macro amplitude_timestamp_type() -%}
    {{ return(adapter.dispatch('amplitude_timestamp_type', 'amplitude')()) }}
{%- endmacro %}

{% macro default__amplitude_timestamp_type() -%}
    timestamp
{%- endmacro %}

{% macro snowflake__amplitude_timestamp_type() -%}
    timestamp_ntz
{%- endmacro %}


{#- A timestamp as canonical text (microseconds), the same on both warehouses. -#}
{% macro amplitude_timestamp_text(column) -%}
    {{ return(adapter.dispatch('amplitude_timestamp_text', 'amplitude')(column)) }}
{%- endmacro %}

{% macro default__amplitude_timestamp_text(column) -%}
    strftime({{ column }}, '%Y-%m-%d %H:%M:%S.%f')
{%- endmacro %}

{% macro snowflake__amplitude_timestamp_text(column) -%}
    to_char({{ column }}, 'YYYY-MM-DD HH24:MI:SS.FF6')
{%- endmacro %}


{#-
    A timestamp as text at the warehouse's full precision (Snowflake: nanoseconds; DuckDB
    holds microseconds), to carry a bound from one query into another exactly.
-#}
{% macro amplitude_timestamp_text_exact(column) -%}
    {{ return(adapter.dispatch('amplitude_timestamp_text_exact', 'amplitude')(column)) }}
{%- endmacro %}

{% macro default__amplitude_timestamp_text_exact(column) -%}
    strftime({{ column }}, '%Y-%m-%d %H:%M:%S.%f')
{%- endmacro %}

{% macro snowflake__amplitude_timestamp_text_exact(column) -%}
    to_char({{ column }}, 'YYYY-MM-DD HH24:MI:SS.FF9')
{%- endmacro %}
