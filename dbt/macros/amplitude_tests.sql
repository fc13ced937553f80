{#-
    dbt's own macro, overridden as its documentation suggests for a `where` that needs more
    than a var: `__latest_batch__` in a test's `where` becomes "the rows of the latest batch
    the model wrote" (`built_at` at its greatest), or every row when
    var('amplitude__test_all_rows') is true. Any other `where` works as in dbt.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if var('amplitude__test_all_rows') -%}
            {%- set latest_batch = '1 = 1' -%}
        {%- else -%}
            {%- set latest_batch -%}
                built_at = (select max(latest.built_at) from {{ relation }} as latest)
            {%- endset -%}
        {%- endif -%}
        {%- set where = where | replace('__latest_batch__', latest_batch) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) as dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
