{#-
    A surrogate key: md5 of the parts joined with '|', a null part as a sentinel text, so
    that null and '' (an element without text, one with empty text; an event type missing
    or empty) make different keys. Portable; the project's own, since dbt Projects on
    Snowflake would need an external access integration or a vendored copy to install
    dbt_utils. Changing this formula changes every stored key: bump
    amplitude_key_formula_version, and incremental runs on tables built before refuse
    until one --full-refresh.
-#}
{% macro amplitude_surrogate_key(parts) -%}
    md5(
        {%- for part in parts %}
        coalesce(cast({{ part }} as {{ dbt.type_string() | lower }}), '{{ amplitude__key_null() }}')
        {%- if not loop.last %} || '|' ||{% endif %}
        {%- endfor %}
    )
{%- endmacro %}

{% macro amplitude__key_null() -%}
    {{ return('_amplitude_null_') }}
{%- endmacro %}

{#- The version of the key formula the models' stored keys were made with. -#}
{% macro amplitude_key_formula_version() -%}
    {{ return('md5-null-sentinel-project-2') }}
{%- endmacro %}


{#-
    The identity of an event (see DECISIONLOG, "Identity"), from staging's typed columns,
    always within its Amplitude project (`app`: two projects may send one insert id):
    the client's idempotency key (device + `$insert_id`) when it sent one, else
    Amplitude's `uuid`, else a hash of the fields Amplitude identifies an event by
    (event id, device, client event time, user), never a file or a position in one.
-#}
{% macro amplitude_event_key() -%}
    case
        when insert_id is not null
            then {{ amplitude_surrogate_key(["'insert_id'", 'project_id', 'device_id', 'insert_id']) }}
        when event_uuid is not null
            then {{ amplitude_surrogate_key(["'uuid'", 'project_id', 'event_uuid']) }}
        else {{ amplitude_surrogate_key([
            "'content'",
            'project_id',
            'event_id',
            'device_id',
            amplitude_timestamp_text('client_event_time'),
            'coalesce(user_id, cast(amplitude_id as ' ~ dbt.type_string() | lower ~ '))',
        ]) }}
    end
{%- endmacro %}


{#-
    Among the copies of one event, the one staging keeps comes first in this order: the
    copy Amplitude received first, then the smallest uuid, then the first loaded (and its
    file and line). A total order on what the rows hold, so the kept copy is the same
    whatever order the copies were loaded in.
-#}
{% macro amplitude_copy_order_columns() -%}
    {{ return(['server_upload_time', 'event_uuid', 'loaded_at', 'file_name', 'file_row_number']) }}
{%- endmacro %}

{% macro amplitude_copy_order_by() -%}
    {%- for column in amplitude_copy_order_columns() -%}
        {{ column }} asc nulls last{% if not loop.last %}, {% endif %}
    {%- endfor -%}
{%- endmacro %}

{#- True when the copy in relation `a` comes before the copy in `b` in that order. -#}
{% macro amplitude_copy_comes_first(a, b) -%}
    {%- set columns = amplitude_copy_order_columns() -%}
    {%- for column in columns %}
    {% if not loop.first %}or ({% for earlier in columns[:loop.index0] -%}
        {{ a }}.{{ earlier }} is not distinct from {{ b }}.{{ earlier }}{% if not loop.last %} and {% endif %}
    {%- endfor %} and {% else %}({% endif -%}
        {{ a }}.{{ column }} is not null
        and ({{ b }}.{{ column }} is null or {{ a }}.{{ column }} < {{ b }}.{{ column }}))
    {%- endfor %}
{%- endmacro %}


{#-
    The columns that make a repeated interaction: session, event type, page title and URL,
    and the element columns of var('amplitude__repeat_element_columns') (null for page
    views, so a page view's group is its page).
-#}
{% macro amplitude_repeat_columns() -%}
    {{ return(['session_key', 'event_type', 'page_title', 'page_url']
        + var('amplitude__repeat_element_columns')) }}
{%- endmacro %}

{#- The key of a repeated interaction (`pkey`): md5 of those columns of `relation`. -#}
{% macro amplitude_repeat_key(relation) -%}
    {%- set columns = [] -%}
    {%- for column in amplitude_repeat_columns() -%}
        {%- do columns.append(relation ~ '.' ~ column) -%}
    {%- endfor -%}
    {{ amplitude_surrogate_key(columns) }}
{%- endmacro %}


{#- Seconds between two timestamps, with milliseconds kept (rage clicks are sub-second). -#}
{% macro amplitude_seconds_between(start, end) -%}
    {{ dbt.datediff(start, end, 'millisecond') }} / 1000.0
{%- endmacro %}


{#- A timestamp that sorts events without one (unparseable) after every real one. -#}
{% macro amplitude_sort_time(column) -%}
    coalesce({{ column }}, cast('9999-12-31 00:00:00' as {{ amplitude_timestamp_type() }}))
{%- endmacro %}


{#- An event type's name without Amplitude's `[Amplitude] ` prefix. -#}
{% macro amplitude_event_name(event_type) -%}
    case
        when {{ event_type }} like '[Amplitude] %' then substr({{ event_type }}, 13)
        else {{ event_type }}
    end
{%- endmacro %}
