{#-
    The marts' contracts (see DECISIONLOG, "Contracts"). A mart's yml is the one home of its
    columns: their names, their order and their `data_type` (rendered per target: a
    timestamp is `timestamp_ntz` on Snowflake, JSON is VARIANT there). The mart's last
    select is made from it: every contracted column, in the yml's order, cast to its type.
    The order matters beyond the contract: tombstones (amplitude_tombstones) are unioned
    by position in the table's order, which a contracted table takes from the yml.
-#}

{#-
    `cast(<expression> as <data_type>) as <name>` for every column of the model's yml, in
    its order; the expression is `relation.name` unless `expressions` gives one. A model
    whose contract is not enforced (a property pivot adds columns no yml can list) gets
    its contracted columns and then `extra`, uncast.
-#}
{% macro amplitude_contract_select(relation, expressions={}, extra=[]) -%}
    {#- A unit test's `model` is the test, which has no columns (nor a graph to find the
        model's): it selects every column and compares those it expects. -#}
    {%- if model.resource_type != 'model' -%}
        {{ return(relation ~ '.*') }}
    {%- endif -%}
    {%- set node = model -%}
    {%- set items = [] -%}
    {%- for column in node.columns.values() -%}
        {%- if column.data_type is none or column.data_type == '' -%}
            {{ exceptions.raise_compiler_error(
                node.name ~ '.' ~ column.name ~ ' has no data_type in its yml: every mart column has one.'
            ) }}
        {%- endif -%}
        {%- set expression = expressions.get(column.name, relation ~ '.' ~ column.name) -%}
        {%- do items.append('cast(' ~ expression ~ ' as ' ~ column.data_type ~ ') as ' ~ column.name) -%}
    {%- endfor -%}
    {%- for name in extra -%}
        {%- do items.append(relation ~ '.' ~ name) -%}
    {%- endfor -%}
    {{ return(items | join(',\n    ')) }}
{%- endmacro %}


{#-
    The property pivots of amplitude__event_enhanced (Fivetran's vars): each name in
    `amplitude__event_properties_to_pivot` / `amplitude__user_properties_to_pivot` becomes
    a text column `event_property_<name>` / `user_property_<name>`, the name sanitized to
    an identifier (lowercase; anything but a-z, 0-9 and _ becomes _). Two names that
    sanitize to one column stop the compile rather than overwrite each other.
-#}
{% macro amplitude_property_pivots() -%}
    {%- set pivots = [] -%}
    {%- set columns = [] -%}
    {%- for source, var_name in [
        ('event_properties', 'amplitude__event_properties_to_pivot'),
        ('user_properties', 'amplitude__user_properties_to_pivot'),
    ] -%}
        {%- for property in var(var_name) -%}
            {%- set name = modules.re.sub('_+', '_', modules.re.sub('[^a-z0-9_]', '_', property | string | lower)).strip('_') -%}
            {%- set column = source.split("_")[0] ~ '_property_' ~ (name or 'unnamed') -%}
            {%- if column in columns -%}
                {{ exceptions.raise_compiler_error(
                    var_name ~ ': "' ~ property ~ '" and another name both become column ' ~ column
                ) }}
            {%- endif -%}
            {%- do columns.append(column) -%}
            {%- do pivots.append({'source': source, 'property': property | string, 'column': column}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(pivots) }}
{%- endmacro %}

{#- A property of a JSON object column as text (null when absent or JSON null). -#}
{% macro amplitude_property_value(column, property) -%}
    {{ return(adapter.dispatch('amplitude_property_value', 'amplitude')(column, property)) }}
{%- endmacro %}

{% macro default__amplitude_property_value(column, property) -%}
    json_extract_string({{ column }}, {{ amplitude__json_pointer([property]) }})
{%- endmacro %}

{#- A VARIANT path on Snowflake: a bracketed key, so any name is one key, not a path. -#}
{% macro snowflake__amplitude_property_value(column, property) -%}
    cast({{ column }}[{{ amplitude__sql_text(property) }}] as varchar)
{%- endmacro %}


{#-
    The user grain (`amplitude__user_grain`): 'amplitude_id', Amplitude's user merged across
    the devices Amplitude linked, or 'user_id' as Fivetran has it, with stitching: every
    amplitude_id seen with a user_id is that user. Changing it changes every `user_key`:
    run `dbt build --full-refresh`.
-#}
{% macro amplitude_user_grain() -%}
    {%- set grain = var('amplitude__user_grain') -%}
    {%- if grain not in ('amplitude_id', 'user_id') -%}
        {{ exceptions.raise_compiler_error(
            "amplitude__user_grain is '" ~ grain ~ "': it is 'amplitude_id' or 'user_id'."
        ) }}
    {%- endif -%}
    {{ return(grain) }}
{%- endmacro %}

{#-
    The `user_key` of an event in `relation`: the project and its amplitude_id, or with
    grain 'user_id' the project and the user_id its amplitude_id was seen with (`identified`
    holds it as person_user_id, null when never seen with one).
-#}
{% macro amplitude_user_key_of(relation, identified=none) -%}
    {%- if identified is none -%}
        {{ amplitude_surrogate_key([relation ~ '.project_id', relation ~ '.amplitude_id']) }}
    {%- else -%}
        case
            when {{ identified }}.person_user_id is not null
                then {{ amplitude_surrogate_key([relation ~ '.project_id', "'user_id'", identified ~ '.person_user_id']) }}
            else {{ amplitude_surrogate_key([relation ~ '.project_id', relation ~ '.amplitude_id']) }}
        end
    {%- endif -%}
{%- endmacro %}

{#-
    `union all` the events built in `held` (rows of this model) whose user is another now:
    every column as built, `user_key` as `identified` gives it, `built_at` this run's.
    Staging's strategy retires the version it replaces, so every mart rebuilds the user the
    events leave and the one they join.
-#}
{% macro amplitude_restamped_users(held, identified) -%}
    {#- A unit test's `this` is a CTE of given rows, not a relation: nothing to restamp. -#}
    {%- if this is string -%}
        {{ return('') }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) if execute else [] -%}
    {%- set user_key = amplitude_user_key_of(held, identified) -%}
    union all
    select
        {%- for column in columns %}
        {% if column.name | lower == 'built_at' -%}
            {{ amplitude_built_at() }} as built_at
        {%- elif column.name | lower == 'user_key' -%}
            {{ user_key }} as user_key
        {%- else -%}
            {{ held }}.{{ column.name | lower }}
        {%- endif %}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ held }}
    left join {{ identified }}
        on
            {{ held }}.project_id is not distinct from {{ identified }}.project_id
            and {{ held }}.amplitude_id is not distinct from {{ identified }}.amplitude_id
    where {{ held }}.user_key is distinct from {{ user_key }}
{%- endmacro %}
