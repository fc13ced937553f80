{#-
    State in the open: the run lease, `analytics_staging.amplitude__run_lease` (one row:
    holder, taken_at, expires_at; models/overview.md, "State dbt keeps beside the models").
    Tested by tests/integration/test_dbt_overlapping_runs.py.

    One writer at a time (see DECISIONLOG, "Two builds at once"). A run that writes
    (`dbt run`, `dbt build`) takes the project's lease at its start and gives it back at its
    end; a second run that starts while the lease is held stops with a message. Rows carry
    the start of the run that wrote them and watermarks are run starts, so two runs that
    overlapped could each skip rows the other committed late: refused, not patched.
    The lease expires `amplitude__run_lease_hours` after the run that took it started, so
    a run killed before its end does not lock the project out for good; every model checks,
    before it is built, that its run still holds the lease, so a run that outlived its
    lease stops before it writes again.

    Taking it is one UPDATE of the lease's single row, conditional on the lease being free
    or expired, then a read of who holds it. Snowflake runs UPDATEs of one table one at a
    time (a DML statement locks the table:
    https://docs.snowflake.com/en/sql-reference/transactions#resource-locking), so of two
    runs taking it at once one finds it held.
-#}

{#- The lease table, as a relation. -#}
{% macro amplitude_run_lease_relation() -%}
    {%- set schema = generate_schema_name('staging', none) | trim -%}
    {{ return(api.Relation.create(
        database=target.database, schema=schema, identifier='amplitude__run_lease'
    )) }}
{%- endmacro %}

{#- Who this run is: dbt's invocation id, or var('amplitude__lease_holder') (tests). -#}
{% macro amplitude__lease_holder() -%}
    {{ return(var('amplitude__lease_holder', none) or invocation_id) }}
{%- endmacro %}

{%- macro amplitude__writes() -%}
    {{ return(execute and flags.WHICH in ('run', 'build')) }}
{%- endmacro %}


{#- The statements that take the lease for `holder`: its table and row, once, then the
    conditional UPDATE. -#}
{% macro amplitude__lease_statements(holder, hours) -%}
    {%- set lease = amplitude_run_lease_relation() -%}
    {%- set started = amplitude_built_at() -%}
    {%- set text = dbt.type_string() | lower -%}
    {%- set statements = [] -%}
    {%- set create -%}
        create table if not exists {{ lease }} (
            holder {{ text }},
            taken_at {{ amplitude_timestamp_type() }},
            expires_at {{ amplitude_timestamp_type() }}
        )
    {%- endset -%}
    {%- set seed_row -%}
        insert into {{ lease }} (holder, taken_at, expires_at)
        select null, null, null
        where not exists (select 1 from {{ lease }})
    {%- endset -%}
    {%- set take -%}
        update {{ lease }}
        set
            holder = '{{ holder }}',
            taken_at = {{ started }},
            expires_at = {{ dbt.dateadd('hour', hours, started) }}
        where
            holder is null
            or holder = '{{ holder }}'
            or expires_at < {{ started }}
            {%- if var('amplitude__lease_take_over') %}
            or true
            {%- endif %}
    {%- endset -%}
    {{ return([create, seed_row, take]) }}
{%- endmacro %}


{#- on-run-start: take the lease (a run that writes); amplitude_check_lease then stops the
    run if another holds it. -#}
{% macro amplitude_take_lease() -%}
    {%- if amplitude__writes() -%}
        {%- do adapter.create_schema(amplitude_run_lease_relation()) -%}
        {{ amplitude__lease_statements(amplitude__lease_holder(), var('amplitude__run_lease_hours')) | join(';\n') }}
    {%- endif -%}
{%- endmacro %}


{#-
    `dbt run-operation amplitude_lease_operation --args '{action: take, holder: A}'`: what
    a run's start (take) or end (release) does, as another run would do it, for tests that
    interleave two runs, and to give back the lease of a run that was killed.
-#}
{% macro amplitude_lease_operation(action, holder, hours=none) -%}
    {%- set hours = var('amplitude__run_lease_hours') if hours is none else hours -%}
    {%- if action == 'take' -%}
        {%- do adapter.create_schema(amplitude_run_lease_relation()) -%}
        {%- for statement in amplitude__lease_statements(holder, hours) -%}
            {%- do run_query(statement) -%}
        {%- endfor -%}
        {%- do adapter.commit() -%}
        {%- do amplitude_check_lease(holder) -%}
    {%- elif action == 'release' -%}
        {%- do run_query(amplitude_release_lease(holder)) -%}
        {%- do adapter.commit() -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("action is take or release, not " ~ action) }}
    {%- endif -%}
{%- endmacro %}


{#- pre-hook of every model, and the last step of taking the lease. -#}
{% macro amplitude_check_lease(holder=none) -%}
    {%- if not (amplitude__writes() or holder) -%}
        {{ return('') }}
    {%- endif -%}
    {%- set holder = holder or amplitude__lease_holder() -%}
    {%- set query -%}
        select holder, taken_at, expires_at from {{ amplitude_run_lease_relation() }}
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {%- set held = rows[0] if rows | length > 0 else none -%}
    {%- if held is none or held[0] != holder -%}
        {{ exceptions.raise_compiler_error(
            "Another dbt run writes to these models: run " ~ (held[0] if held else 'unknown')
            ~ " took the lease at " ~ (held[1] if held else '?') ~ " (UTC) until "
            ~ (held[2] if held else '?') ~ ". Two runs at once could each skip rows the"
            ~ " other writes, so this one stops. Run again when it has finished; if it was"
            ~ " killed, the lease expires by itself, or give it back now with"
            ~ " `dbt run-operation amplitude_lease_operation --args '{action: release, holder: "
            ~ (held[0] if held else '') ~ "}'`."
        ) }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{#- on-run-end: give the lease back, if this run holds it. -#}
{% macro amplitude_release_lease(holder=none) -%}
    {%- if amplitude__writes() or holder -%}
        update {{ amplitude_run_lease_relation() }}
        set holder = null, taken_at = null, expires_at = null
        where holder = '{{ holder or amplitude__lease_holder() }}'
    {%- endif -%}
{%- endmacro %}
