{#-
    dbt's own macro `get_where_subquery`, overridden in this project (a macro of the root
    project takes precedence over dbt's), as dbt documents for a `where` that needs more
    than a var (https://docs.getdbt.com/reference/resource-configs/where, "Custom logic").
    dbt_project.yml sets `+where: "__latest_batch__"` on every data test; here that word
    becomes "the rows of the latest batch the model wrote" (`built_at` at its greatest), or
    every row when var('amplitude__test_all_rows') is true, so a run's tests cost what it
    built (DECISIONLOG, "Tests cost what a run built"). Any other `where` works as in dbt.
    Tested by tests/integration/test_dbt_test_scope.py.
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
