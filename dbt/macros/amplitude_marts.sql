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
