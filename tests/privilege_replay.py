"""Replaying sql/ against a model of Snowflake's access control.

Every statement of the deploy, in deploy order, is classified into a kind of
sql/privileges.yml and checked against what its role holds at that point: objects it
owns, privileges granted to it, global privileges, and all of that through the role
hierarchy. Statements then take effect (objects are created with their owner, grants and
future grants are recorded), so a later statement sees the account the earlier ones
made. What runs after the deploy (task bodies, procedures, dbt, readers) is replayed last,
as the role it runs as.

The model is deliberately small: only the statement shapes this project uses are known,
and an unknown shape is itself a finding, so a new statement cannot slip past unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp

from tests.sql_scripts import SQL_DIR, VARIABLES, render, split_statements

PRIVILEGES_FILE = SQL_DIR / "privileges.yml"

ACCOUNT_KINDS = {"database", "warehouse", "role", "integration"}
_PLURAL = {"tables": "table", "views": "view"}


@dataclass
class Finding:
    """A statement its role could not run, or that Snowflake would reject."""

    source: str
    statement: str
    role: str
    problem: str
    doc: str

    def __str__(self) -> str:
        return (
            f"{self.source}: [{self.role}] {self.statement[:90]}\n    {self.problem} ({self.doc})"
        )


@dataclass
class SecurableObject:
    kind: str
    name: str
    owner: str
    grants: dict[str, set[str]] = field(default_factory=dict)
    props: dict[str, Any] = field(default_factory=dict)


@dataclass
class Statement:
    source: str
    text: str  # rendered, comments removed, whitespace collapsed
    role: str | None = None  # run as this role (runtime statements); None: the session's
    context: tuple[str, str] | None = None  # (database, schema) for runtime statements


def load_rules(path: Path = PRIVILEGES_FILE) -> dict[str, Any]:
    rules: dict[str, Any] = yaml.safe_load(path.read_text())
    return rules


def normalize(text: str) -> str:
    """Whitespace collapsed, trailing `;` dropped (comments are gone: the splitter drops them)."""
    return " ".join(text.split()).rstrip(";").strip()


def script_statements(path: Path, variables: dict[str, str] | None = None) -> list[Statement]:
    rendered = render(path.read_text(), variables) if variables else render(path.read_text())
    return [
        Statement(path.name, normalize(part))
        for part in split_statements(rendered)
        if normalize(part)
    ]


class Account:
    """Roles, objects and grants, and the checks of sql/privileges.yml against them."""

    def __init__(self, rules: dict[str, Any]) -> None:
        self.rules = {row["kind"]: row for row in rules["statements"]}
        self.functions = {row["name"]: row for row in rules["functions"]}
        self.grantable: dict[str, list[str]] = rules["grantable"]["kinds"]
        self.grantable_doc: str = rules["grantable"]["doc"]
        system = rules["system_roles"]
        self.granted_roles: dict[str, set[str]] = {}  # role -> roles granted to it
        self.global_privileges: dict[str, set[str]] = {}
        for role, spec in system["roles"].items():
            self.granted_roles[role] = set(spec["inherits"])
            self.global_privileges[role] = set(spec["global"])
        self.user_roles: set[str] = set(system["user_roles"])
        self.objects: dict[tuple[str, str], SecurableObject] = {}
        self.future: dict[tuple[str, str], dict[str, set[str]]] = {}
        self.used_grants: set[tuple[str, str, str, str]] = set()  # (role, kind, name, priv)
        self.findings: list[Finding] = []
        self.role = "PUBLIC"
        self.database: str | None = None
        self.schema: str | None = None
        # The session's current warehouse. Each script (`snow sql -f`), each procedure call
        # and each task run is its own session: a new source starts without one, so every
        # one of them must USE WAREHOUSE before it queries (the deploy's connection is not
        # assumed to name a default warehouse).
        self.warehouse: str | None = None
        self._session_source: str | None = None
        # A Native App's replay (app_account()): the role that stands for the application
        # itself. Its statements use the `app <kind>` row of a kind when there is one.
        self.application: str | None = None

    # ---- the role hierarchy ---------------------------------------------------------------

    def closure(self, role: str) -> set[str]:
        seen: set[str] = set()
        todo = [role]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(self.granted_roles.get(current, ()))
        return seen

    def has_global(self, role: str, privilege: str) -> bool:
        return any(privilege in self.global_privileges.get(r, ()) for r in self.closure(role))

    def has(self, role: str, obj: SecurableObject, privileges: Iterable[str]) -> bool:
        wanted = set(privileges)
        holders = self.closure(role)
        if obj.owner in holders:
            return True
        matches = [
            (holder, privilege)
            for holder in holders
            for privilege in obj.grants.get(holder, set())
            if "ANY" in wanted or privilege in wanted
        ]
        # Every grant that satisfies a named privilege counts as used. "Any privilege"
        # justifies a grant only when it is the only one held.
        if "ANY" not in wanted or len(matches) == 1:
            for holder, privilege in matches:
                self.used_grants.add((holder, obj.kind, obj.name, privilege))
        return bool(matches)

    # ---- names ------------------------------------------------------------------------------

    def qualify(self, name: str, kind: str) -> str:
        name = re.sub(r"\(.*\)$", "", name).upper()
        if kind in ACCOUNT_KINDS:
            return name
        parts = name.split(".")
        if kind == "schema":
            return name if len(parts) == 2 else f"{self.database}.{name}"
        if len(parts) == 3:
            return name
        if len(parts) == 2:
            return f"{self.database}.{name}"
        return f"{self.database}.{self.schema}.{name}"

    def get(self, kind: str, name: str) -> SecurableObject | None:
        if kind == "stage":
            return self.objects.get(("stage", self.qualify(name, "stage")))
        return self.objects.get((kind, self.qualify(name, kind)))

    def create(self, kind: str, name: str, **props: Any) -> SecurableObject:
        qualified = self.qualify(name, kind)
        existing = self.objects.get((kind, qualified))
        if existing is not None and not props.pop("replace", False):
            return existing
        props.pop("replace", None)
        obj = SecurableObject(kind, qualified, self.role, props=props)
        self.objects[(kind, qualified)] = obj
        if kind in ("table", "view"):
            schema = qualified.rsplit(".", 1)[0]
            for grantee, privileges in self.future.get((schema, kind), {}).items():
                obj.grants.setdefault(grantee, set()).update(privileges)
        return obj

    # ---- checks -------------------------------------------------------------------------------

    def fail(self, statement: Statement, problem: str, doc: str) -> None:
        self.findings.append(Finding(statement.source, statement.text, self.role, problem, doc))

    def require(self, statement: Statement, kind: str, bindings: dict[str, Any]) -> None:
        if self.role == self.application and f"app {kind}" in self.rules:
            kind = f"app {kind}"
        rule = self.rules[kind]
        for need in rule["needs"]:
            problem = self._unmet(need, bindings)
            if problem:
                self.fail(statement, f"{kind}: {problem}", rule["doc"])

    def _unmet(self, need: dict[str, Any], bindings: dict[str, Any]) -> str | None:
        if "any_of" in need:
            problems = [self._unmet(option, bindings) for option in need["any_of"]]
            if all(problems):
                return " and ".join(p for p in problems if p)
            return None
        on = need["object"]
        privileges = need["privilege"]
        wanted = [privileges] if isinstance(privileges, str) else list(privileges)
        if on == "account":
            if any(self.has_global(self.role, p) for p in wanted):
                return None
            return f"{self.role} lacks {' or '.join(wanted)} on the account"
        if wanted == ["GRANTED_TO_USER"]:
            role = bindings["role"]
            if role not in self.granted_roles:
                return f"role {role} does not exist"
            reachable = set().union(*(self.closure(r) for r in self.user_roles))
            return None if role in reachable else f"role {role} is not granted to the user"
        targets = bindings.get(on)
        if targets is None:
            return None  # the statement does not reference such an object
        if not isinstance(targets, list):
            targets = [targets]
        for obj in targets:
            if on == "reads" and isinstance(obj, SecurableObject):
                problem = self._containers(obj)
                if problem:
                    return problem
            if obj is None:
                return f"the {on} it needs does not exist"
            if isinstance(obj, str):
                return f"{obj} does not exist"
            if need.get("when") == "managed access" and not obj.props.get("managed_access"):
                return f"{obj.kind} {obj.name} is not a managed access schema"
            if wanted == ["STAGE_WRITE"] or wanted == ["STAGE_READ"]:
                wanted_here = (
                    ["USAGE"]
                    if obj.props.get("external")
                    else (["WRITE"] if wanted == ["STAGE_WRITE"] else ["READ"])
                )
            else:
                wanted_here = wanted
            if not self.has(self.role, obj, wanted_here):
                return f"{self.role} lacks {' or '.join(wanted_here)} on {obj.kind} {obj.name}"
        return None

    def _containers(self, obj: SecurableObject) -> str | None:
        """Reading an object needs a privilege on its database and schema too."""
        database, schema, _ = obj.name.split(".")
        for kind, name in (("database", database), ("schema", f"{database}.{schema}")):
            container = self.objects.get((kind, name))
            if container is None or not self.has(self.role, container, ["USAGE"]):
                return f"{self.role} lacks USAGE on {kind} {name} (to read {obj.kind} {obj.name})"
        return None

    def need_warehouse(self, statement: Statement) -> None:
        """A query or DML runs on the session's current warehouse, which the current role
        must be allowed to use (USE WAREHOUSE: "A warehouse must be specified for a
        session and the warehouse must be running before queries and other DML statements
        can be executed"; the warehouse here auto-resumes)."""
        rule = self.rules["current warehouse"]
        if self.warehouse is None:
            self.fail(
                statement,
                "current warehouse: none in this session (a query or DML needs USE WAREHOUSE)",
                rule["doc"],
            )
            return
        self.require(
            statement,
            "current warehouse",
            {"warehouse": self.get("warehouse", self.warehouse) or self.warehouse},
        )

    def check_grantable(
        self, statement: Statement, obj: SecurableObject, privileges: list[str]
    ) -> None:
        kind = obj.kind
        if kind == "stage":
            kind = "external stage" if obj.props.get("external") else "internal stage"
        allowed = set(self.grantable.get(kind, [])) | {"OWNERSHIP"}
        for privilege in privileges:
            if privilege not in allowed:
                self.fail(
                    statement,
                    f"{privilege} cannot be granted on {kind} {obj.name} "
                    f"(it takes {', '.join(sorted(allowed - {'OWNERSHIP'}))})",
                    self.grantable_doc,
                )

    # ---- replay -------------------------------------------------------------------------------

    def run(self, statement: Statement) -> None:
        if statement.source != self._session_source:
            self._session_source, self.warehouse = statement.source, None
        saved = (self.role, self.database, self.schema)
        if statement.role:
            self.role = statement.role.upper()
        if statement.context:
            self.database, self.schema = statement.context
        try:
            _dispatch(self, statement)
        finally:
            if statement.role or statement.context:
                self.role, self.database, self.schema = saved


def _privileges(text: str) -> list[str]:
    return [" ".join(p.split()).upper() for p in text.split(",")]


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()] if text else []


def _reads(sql: str) -> list[str]:
    """Tables and views a query reads (table functions and stages excluded)."""
    try:
        tree = sqlglot.parse_one(sql, read="snowflake")
    except sqlglot.errors.ParseError:
        return []
    ctes = {cte.alias_or_name.upper() for cte in tree.find_all(exp.CTE)}
    names = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # table(...) functions
        name = ".".join(p.name for p in table.parts).upper()
        if name and name not in ctes and not name.startswith("INFORMATION_SCHEMA"):
            names.append(name)
    return names


def _functions(sql: str) -> Iterator[tuple[str, str | None]]:
    for match in re.finditer(
        r"(system\$\w+|copy_history|task_history|task_dependents)\s*\(\s*(?:\w+\s*=>\s*)?'([^']*)'?",
        sql,
        re.I,
    ):
        yield match.group(1).lower(), match.group(2)
    # Functions whose first argument is not the object they act on.
    for match in re.finditer(
        r"\b(task_history|system\$send_snowflake_notification)\s*\(", sql, re.I
    ):
        yield match.group(1).lower(), None


_GRANT_KINDS = (
    "warehouse|database|schema|integration|secret|network rule|stage|file format|table|view|"
    "pipe|procedure|task|dbt project|streamlit"
)
_NAME = r"[\w.$]+(?:\([^)]*\))?"


def _dispatch(account: Account, s: Statement) -> None:
    text = s.text
    low = text.lower()
    a = account

    def match(pattern: str) -> re.Match[str] | None:
        return re.match(pattern, low, re.S)

    if m := match(r"^use role (\w+)$"):
        role = m.group(1).upper()
        a.require(s, "use role", {"role": role})
        a.role = role
    elif m := match(r"^use warehouse (\w+)$"):
        a.require(
            s, "use warehouse", {"target": a.get("warehouse", m.group(1)) or m.group(1).upper()}
        )
        a.warehouse = m.group(1).upper()
    elif m := match(r"^use database (\w+)$"):
        db = a.get("database", m.group(1))
        a.require(s, "use database", {"target": db or m.group(1).upper()})
        a.database, a.schema = m.group(1).upper(), "PUBLIC"
    elif m := match(r"^use schema ([\w.]+)$"):
        schema = a.get("schema", m.group(1))
        a.require(
            s,
            "use schema",
            {
                "target": schema or m.group(1).upper(),
                "database": a.get("database", str(a.database)),
            },
        )
        a.schema = a.qualify(m.group(1), "schema").split(".")[1]
    elif match(r"^(begin transaction|commit|rollback)$"):
        a.require(s, "transaction", {})
    elif match(r"^show\b"):
        a.require(s, "show", {})
    elif m := match(r"^create role if not exists (\w+)"):
        a.require(s, "create role", {})
        role = m.group(1).upper()
        a.granted_roles.setdefault(role, set())
        a.create("role", role)
    elif m := match(r"^grant role (\w+) to role (\w+)$"):
        role, parent = m.group(1).upper(), m.group(2).upper()
        a.require(s, "grant role", {"target": a.get("role", role) or role})
        a.granted_roles.setdefault(parent, set()).add(role)
    elif m := match(r"^create application role if not exists (\w+)$"):
        # Native App: the setup script creates the app's roles (creating-setup-script).
        a.require(s, "create application role", {})
        role = m.group(1).upper()
        a.granted_roles.setdefault(role, set())
        a.create("role", role)
    elif m := match(r"^grant application role (\w+) to application role (\w+)$"):
        role, parent = m.group(1).upper(), m.group(2).upper()
        a.require(s, "grant application role", {"target": a.get("role", role) or role})
        a.granted_roles.setdefault(parent, set()).add(role)
    elif m := match(rf"^grant ([\w ,]+?) on ({_GRANT_KINDS}) ({_NAME}) to application role (\w+)$"):
        kind = m.group(2)
        obj = a.get(kind, m.group(3))
        privileges = _privileges(m.group(1))
        target = obj or f"{kind} {m.group(3).upper()}"
        a.require(s, "grant to application role", {"target": target})
        if obj:
            a.check_grantable(s, obj, privileges)
            obj.grants.setdefault(m.group(4).upper(), set()).update(privileges)
    elif m := match(r"^create or alter versioned schema (\w+)$"):
        a.require(s, "create versioned schema", {"database": a.get("database", str(a.database))})
        a.create("schema", m.group(1), versioned=True)
    elif m := match(r"^alter application set specification (\w+) "):
        # "This command can only be used by a Snowflake Native App" (its reference page).
        if a.application is None or a.role != a.application:
            a.fail(
                s,
                "only the app itself sets its specifications",
                a.rules["alter application set specification"]["doc"],
            )
        a.require(s, "alter application set specification", {})
    elif m := match(r"^create task if not exists ([\w.]+) warehouse = (\w+)(.*?) as (.*)$"):
        bindings = _schema_bindings(a, m.group(1))
        bindings["warehouse"] = a.get("warehouse", m.group(2)) or m.group(2).upper()
        a.require(s, "create task", bindings)
        after = re.search(r"\b(?:after|finalize =) ([\w.]+)", m.group(3))
        root = a.get("task", after.group(1)) if after else None
        database, schema, _ = a.qualify(m.group(1), "task").split(".")
        a.create(
            "task",
            m.group(1),
            body=text[len(text) - len(m.group(4)) :],
            parent=root.name if root else None,
            context=(database, schema),  # its body runs in its own schema
            warehouse=m.group(2),
        )
    elif m := match(r"^copy into ([\w.]+) .*?\bfrom @([\w.]+).*?format_name = '?([\w.]+)"):
        # The app's load step: COPY from its internal stage into its raw table.
        bindings = {
            **_schema_bindings(a, m.group(1)),
            "target": a.get("table", m.group(1)) or m.group(1).upper(),
            "stage": a.get("stage", m.group(2)) or m.group(2).upper(),
            "file format": a.get("file format", m.group(3)) or m.group(3).upper(),
        }
        a.require(s, "copy into table", bindings)
        a.need_warehouse(s)
    elif m := match(r"^alter table ([\w.]+) set change_tracking = true$"):
        a.require(
            s,
            "alter table",
            {**_schema_bindings(a, m.group(1)), "target": a.get("table", m.group(1))},
        )
    elif m := match(r"^alter task ([\w.]+) set schedule = "):
        a.require(s, "alter task set", {"target": a.get("task", m.group(1)) or m.group(1).upper()})
    elif m := match(r"^alter secret ([\w.]+) set "):
        a.require(
            s,
            "alter secret",
            {**_schema_bindings(a, m.group(1)), "target": a.get("secret", m.group(1))},
        )
    elif m := match(r"^create warehouse if not exists (\w+)"):
        a.require(s, "create warehouse", {})
        a.create("warehouse", m.group(1))
    elif m := match(r"^create database if not exists (\w+)"):
        a.require(s, "create database", {})
        a.create("database", m.group(1))
    elif m := match(
        rf"^grant ownership on ({_GRANT_KINDS}) ({_NAME}) to role (\w+)( copy current grants)?$"
    ):
        obj = a.get(m.group(1), m.group(2))
        a.require(s, "grant ownership", {"target": obj or m.group(2).upper()})
        if obj:
            if not m.group(4):
                obj.grants.clear()
            obj.owner = m.group(3).upper()
    elif m := match(r"^create schema if not exists ([\w.]+)( with managed access)?"):
        a.require(s, "create schema", {"database": a.get("database", str(a.database))})
        a.create("schema", m.group(1), managed_access=bool(m.group(2)))
    elif m := match(
        r"^grant ([\w ,]+?) on future (tables|views) in schema ([\w.]+) to role (\w+)$"
    ):
        schema = a.get("schema", m.group(3))
        a.require(s, "grant future", {"schema": schema or m.group(3).upper()})
        if schema:
            key = (schema.name, _PLURAL[m.group(2)])
            a.future.setdefault(key, {}).setdefault(m.group(4).upper(), set()).update(
                _privileges(m.group(1))
            )
    elif m := match(r"^grant ([\w ,]+?) on all (tables|views) in schema ([\w.]+) to role (\w+)$"):
        schema = a.get("schema", m.group(3))
        a.require(s, "grant all", {"schema": schema or m.group(3).upper()})
        if schema:
            for obj in a.objects.values():
                if obj.kind == _PLURAL[m.group(2)] and obj.name.startswith(schema.name + "."):
                    obj.grants.setdefault(m.group(4).upper(), set()).update(_privileges(m.group(1)))
    elif m := match(r"^grant ([\w ,]+?) on account to role (\w+)$"):
        a.require(s, "grant on account", {})
        privileges = _privileges(m.group(1))
        allowed = set(a.grantable["account"])
        for privilege in privileges:
            if privilege not in allowed:
                a.fail(s, f"{privilege} is not a global privilege", a.grantable_doc)
        a.global_privileges.setdefault(m.group(2).upper(), set()).update(privileges)
    elif m := match(rf"^grant ([\w ,]+?) on ({_GRANT_KINDS}) ({_NAME}) to role (\w+)$"):
        kind = m.group(2)
        obj = a.get(kind, m.group(3))
        privileges = _privileges(m.group(1))
        a.require(s, "grant privilege", {"target": obj or f"{kind} {m.group(3).upper()}"})
        if obj:
            a.check_grantable(s, obj, privileges)
            obj.grants.setdefault(m.group(4).upper(), set()).update(privileges)
    elif m := match(r"^create (or alter |or replace )?network rule (if not exists )?([\w.]+)"):
        a.require(s, "create network rule", _schema_bindings(a, m.group(3)))
        a.create("network rule", m.group(3), replace=m.group(1) == "or replace ")
    elif m := match(r"^alter network rule (if exists )?([\w.]+)"):
        a.require(
            s,
            "alter file format",
            {**_schema_bindings(a, m.group(2)), "target": a.get("network rule", m.group(2))},
        )
    elif m := match(r"^create (or replace )?secret (if not exists )?([\w.]+)"):
        a.require(s, "create secret", _schema_bindings(a, m.group(3)))
        a.create("secret", m.group(3), replace=bool(m.group(1)))
    elif m := match(
        r"^(create (?:or replace )?|alter )external access integration (?:if (?:not )?exists )?(\w+)"  # noqa: E501
        r"(?: set)? allowed_network_rules = \(([^)]*)\)(?: allowed_authentication_secrets = \(([^)]*)\))?"  # noqa: E501
    ):
        bindings: dict[str, Any] = {
            "network rule": [a.get("network rule", n) or n.upper() for n in _names(m.group(3))],
            "secret": [a.get("secret", n) or n.upper() for n in _names(m.group(4))] or None,
        }
        if m.group(1).startswith("create"):
            a.require(s, "create external access integration", bindings)
            a.create(
                "integration",
                m.group(2),
                type="external access",
                replace="or replace" in m.group(1),
            )
        else:
            bindings["target"] = a.get("integration", m.group(2)) or m.group(2).upper()
            a.require(s, "alter external access integration", bindings)
    elif low.startswith("execute immediate $$"):
        for inner in _block_statements(text):
            a.run(Statement(s.source, inner))
    elif m := match(r"^create notification integration if not exists (\w+) type = (\w+)(.*)$"):
        bindings = {}
        if w := re.search(r"webhook_secret = ([\w.]+)", m.group(3)):
            bindings["secret"] = a.get("secret", w.group(1)) or w.group(1).upper()
        a.require(s, "create notification integration", bindings)
        a.create(
            "integration",
            m.group(1),
            type=f"{m.group(2)} notification",
            secret=a.qualify(w.group(1), "secret") if w else None,
        )
    elif m := match(r"^alter notification integration (\w+) set"):
        target = a.get("integration", m.group(1)) or m.group(1).upper()
        a.require(s, "alter notification integration", {"target": target})
    elif m := re.match(
        r"^create or replace alert (\w+) warehouse = (\w+)(.*?) if \(exists \((.*)\)\) then (.*)$",
        text,
        re.S | re.I,
    ):
        bindings = _schema_bindings(a, m.group(1))
        bindings["warehouse"] = a.get("warehouse", m.group(2)) or m.group(2).upper()
        a.require(s, "create alert", bindings)
        a.create(
            "alert",
            m.group(1),
            replace=True,
            condition=m.group(4),
            action=m.group(5),
            context=(a.database, a.schema),
            warehouse=m.group(2),
        )
    elif m := match(r"^alter alert (\w+) (suspend|resume)$"):
        a.require(
            s, f"{m.group(2)} alert", {"target": a.get("alert", m.group(1)) or m.group(1).upper()}
        )
    elif m := match(r"^create storage integration if not exists (\w+)"):
        a.require(s, "create storage integration", {})
        a.create("integration", m.group(1), type="storage")
    elif m := match(r"^create (or replace )?file format (if not exists )?([\w.]+)"):
        a.require(s, "create file format", _schema_bindings(a, m.group(3)))
        a.create("file format", m.group(3), replace=bool(m.group(1)))
    elif m := match(r"^alter file format (if exists )?([\w.]+) set"):
        a.require(
            s,
            "alter file format",
            {**_schema_bindings(a, m.group(2)), "target": a.get("file format", m.group(2))},
        )
    elif m := match(r"^create stage if not exists ([\w.]+)(.*)$"):
        rest = m.group(2)
        bindings = _schema_bindings(a, m.group(1))
        if i := re.search(r"storage_integration = (\w+)", rest):
            bindings["integration"] = a.get("integration", i.group(1)) or i.group(1).upper()
        if f := re.search(r"file_format = (\(\s*format_name = )?'?(\w[\w.]*)", rest):
            bindings["file format"] = a.get("file format", f.group(2)) or f.group(2).upper()
            if not f.group(1):
                a.fail(
                    s,
                    "create stage: a named file format is given as FILE_FORMAT = "
                    "( FORMAT_NAME = '<name>' ), not FILE_FORMAT = <name>",
                    a.rules["create stage"]["doc"],
                )
        a.require(s, "create stage", bindings)
        a.create("stage", m.group(1), external="url =" in rest)
    elif m := match(r"^create table if not exists ([\w.]+)"):
        a.require(s, "create table", _schema_bindings(a, m.group(1)))
        a.create("table", m.group(1))
    elif m := match(r"^create or replace table ([\w.]+) as (.*)$"):
        bindings = _schema_bindings(a, m.group(1))
        bindings["reads"] = [a.get("view", n) or a.get("table", n) or n for n in _reads(m.group(2))]
        a.require(s, "create table as select", bindings)
        a.need_warehouse(s)
        a.create("table", m.group(1), replace=True)
    elif m := match(r"^alter table ([\w.]+) add column"):
        a.require(
            s,
            "alter table",
            {**_schema_bindings(a, m.group(1)), "target": a.get("table", m.group(1))},
        )
    elif m := match(
        r"^create pipe if not exists ([\w.]+) .*? as copy into ([\w.]+).*? from @([\w.]+).*format_name = '([\w.]+)'"  # noqa: E501
    ):
        bindings = _schema_bindings(a, m.group(1))
        bindings.update(
            stage=a.get("stage", m.group(3)) or m.group(3).upper(),
            table=a.get("table", m.group(2)) or m.group(2).upper(),
        )
        bindings["file format"] = a.get("file format", m.group(4)) or m.group(4).upper()
        a.require(s, "create pipe", bindings)
        a.create("pipe", m.group(1))
    elif m := match(r"^create (or replace )?procedure ([\w.]+)\(.*? language python .*$"):
        bindings = _schema_bindings(a, m.group(2))
        eai = re.search(r"external_access_integrations = \(([^)]*)\)", low)
        secrets = (
            re.findall(r"'\w+' = ([\w.]+)", low.split("secrets = ", 1)[1])
            if "secrets = " in low
            else []
        )
        imports = re.findall(r"'@([\w.]+)/", low)
        bindings["integration"] = [
            a.get("integration", n) or n.upper() for n in _names(eai.group(1) if eai else None)
        ] or None
        bindings["secret"] = [a.get("secret", n) or n.upper() for n in secrets] or None
        bindings["stage"] = [a.get("stage", n) or n.upper() for n in imports] or None
        a.require(s, "create python procedure", bindings)
        a.create("procedure", m.group(2), replace=True)
    elif m := match(r"^create (or replace )?procedure ([\w.]+)\("):
        a.require(s, "create sql procedure", _schema_bindings(a, m.group(2)))
        # A SQL procedure runs as its owner unless it says EXECUTE AS CALLER (CREATE
        # PROCEDURE): procedure_runtime() replays its body as the owner.
        a.create(
            "procedure",
            m.group(2),
            replace=True,
            body=text if "$$" in text else None,
            owners_rights="execute as caller" not in low.split("$$")[0],
            context=(a.database, a.schema),
        )
    elif m := match(r"^create (or replace )?streamlit (if not exists )?([\w.]+) (.*)$"):
        bindings = _schema_bindings(a, m.group(3))
        if w := re.search(r"query_warehouse = (\w+)", m.group(4)):
            bindings["warehouse"] = a.get("warehouse", w.group(1)) or w.group(1).upper()
        a.require(s, "create streamlit", bindings)
        a.create("streamlit", m.group(3), replace=bool(m.group(1)))
    elif m := match(r"^create (or replace )?dbt project ([\w.]+)"):
        a.require(s, "create dbt project", _schema_bindings(a, m.group(2)))
        a.create("dbt project", m.group(2), replace=bool(m.group(1)))
    elif m := match(
        r"^drop (procedure|task|pipe|view|table|stage|secret|file format|network rule|streamlit) if exists ([\w.]+)"  # noqa: E501
    ):
        obj = a.get(m.group(1), m.group(2))
        if obj:
            a.require(s, "drop schema object", {**_schema_bindings(a, m.group(2)), "target": obj})
            del a.objects[(obj.kind, obj.name)]
    elif m := match(r"^drop (database|warehouse|integration|role) if exists (\w+)$"):
        obj = a.get(m.group(1), m.group(2))
        if obj:
            a.require(s, "drop account object", {"target": obj})
            del a.objects[(obj.kind, obj.name)]
    elif m := match(r"^alter task (if exists )?([\w.]+) (suspend|resume)$"):
        obj = a.get("task", m.group(2))
        if obj is None and m.group(1):
            return
        a.require(s, f"{m.group(3)} task", {"target": obj or m.group(2).upper()})
    elif m := match(r"^create or replace task (\w+) warehouse = (\w+)(.*?) as (.*)$"):
        bindings = _schema_bindings(a, m.group(1))
        bindings["warehouse"] = a.get("warehouse", m.group(2)) or m.group(2).upper()
        a.require(s, "create task", bindings)
        after = re.search(r"\b(?:after|finalize =) (\w+)", m.group(3))
        root = a.get("task", after.group(1)) if after else None
        a.create(
            "task",
            m.group(1),
            replace=True,
            body=text[len(text) - len(m.group(4)) :],
            parent=root.name if root else None,
            context=(a.database, a.schema),
            warehouse=m.group(2),
        )
    elif m := match(r"^select system\$task_dependents_enable\('([\w.]+)'\)$"):
        root = a.get("task", m.group(1))
        a.require(
            s,
            "task dependents enable",
            {"task graph": _task_graph(a, root) if root else m.group(1).upper()},
        )
        a.need_warehouse(s)
    elif m := match(r"^create or replace view ([\w.]+)(.*?) as (.*)$"):
        bindings = _schema_bindings(a, m.group(1))
        body = text[len(text) - len(m.group(3)) :]
        bindings["reads"] = [a.get("view", n) or a.get("table", n) or n for n in _reads(body)]
        a.require(s, "create view", bindings)
        _check_functions(a, s, body)
        for name, _ in _functions(body):
            row = a.functions.get(name.lower())
            if row is not None and row.get("in_views") is False:
                a.fail(s, f"{name}() in a view: {row['in_views_why']}", row["doc"])
        copy_grants = "copy grants" in m.group(2)
        old = a.get("view", m.group(1))
        view = a.create("view", m.group(1), replace=True, body=body)
        if copy_grants and old:
            view.grants = old.grants
    elif m := match(r"^merge into ([\w.]+)"):
        target = a.get("table", m.group(1)) or m.group(1).upper()
        reads = [n for n in _reads(text) if a.qualify(n, "table") != a.qualify(m.group(1), "table")]
        bindings = {
            **_schema_bindings(a, m.group(1)),
            "target": target,
            "reads": [a.get("view", n) or a.get("table", n) or n for n in reads],
        }
        a.require(s, "merge", bindings)
        a.need_warehouse(s)
        _check_functions(a, s, text)
    elif m := match(r"^insert into ([\w.]+)"):
        reads = [n for n in _reads(text) if a.qualify(n, "table") != a.qualify(m.group(1), "table")]
        bindings = {
            **_schema_bindings(a, m.group(1)),
            "target": a.get("table", m.group(1)) or m.group(1).upper(),
            "reads": [a.get("view", n) or a.get("table", n) or n for n in reads],
        }
        a.require(s, "insert", bindings)
        a.need_warehouse(s)
        _check_functions(a, s, text)
    elif m := match(r"^update ([\w.]+)"):
        reads = [n for n in _reads(text) if a.qualify(n, "table") != a.qualify(m.group(1), "table")]
        bindings = {
            **_schema_bindings(a, m.group(1)),
            "target": a.get("table", m.group(1)) or m.group(1).upper(),
            "reads": [a.get("view", n) or a.get("table", n) or n for n in reads],
        }
        a.require(s, "update", bindings)
        a.need_warehouse(s)
    elif m := match(r"^delete from ([\w.]+)"):
        a.require(
            s, "delete", {"target": a.get("table", m.group(1)) or m.group(1).upper(), "reads": []}
        )
        a.need_warehouse(s)
    elif match(r"^(select|with)\b"):
        names = _reads(text)
        a.require(
            s, "select", {"reads": [a.get("view", n) or a.get("table", n) or n for n in names]}
        )
        a.need_warehouse(s)
        _check_functions(a, s, text)
    elif m := match(r"^call ([\w.$]+)\("):
        if m.group(1).startswith("system$"):
            _check_functions(a, s, text)
            return
        a.require(s, "call", {"target": a.get("procedure", m.group(1)) or m.group(1).upper()})
        a.need_warehouse(s)
    elif m := match(r"^execute task ([\w.]+)$"):
        a.require(s, "execute task", {"target": a.get("task", m.group(1)) or m.group(1).upper()})
    elif m := match(r"^execute dbt project ([\w.]+)"):
        a.require(
            s,
            "execute dbt project",
            {"target": a.get("dbt project", m.group(1)) or m.group(1).upper()},
        )
        a.need_warehouse(s)
    elif m := match(
        r"^desc(?:ribe)? (procedure|integration|notification integration|dbt project) ([\w.]+)"
    ):
        kind = m.group(1).removeprefix("notification ")
        a.require(s, "describe", {"target": a.get(kind, m.group(2)) or m.group(2).upper()})
    elif m := match(r"^(put \S+|remove) @([\w.]+)"):
        a.require(s, "stage write", {"target": a.get("stage", m.group(2)) or m.group(2).upper()})
    elif m := match(r"^list @([\w.]+)"):
        a.require(s, "stage read", {"target": a.get("stage", m.group(1)) or m.group(1).upper()})
    else:
        a.fail(s, "no row of sql/privileges.yml covers this statement", str(PRIVILEGES_FILE))


def _schema_bindings(a: Account, name: str) -> dict[str, Any]:
    qualified = a.qualify(name, "table")
    database, schema, _ = qualified.split(".")
    return {
        "database": a.get("database", database) or f"database {database}",
        "schema": a.get("schema", f"{database}.{schema}") or f"schema {database}.{schema}",
    }


def _task_graph(a: Account, root: SecurableObject) -> list[SecurableObject]:
    graph = [root]
    changed = True
    while changed:
        changed = False
        for obj in a.objects.values():
            if (
                obj.kind == "task"
                and obj.props.get("parent") in {t.name for t in graph}
                and obj not in graph
            ):
                graph.append(obj)
                changed = True
    return graph


def _check_functions(a: Account, s: Statement, sql: str) -> None:
    for name, argument in _functions(sql):
        row = a.functions.get(name.lower())
        if row is None:
            continue
        bindings: dict[str, Any] = {}
        if name == "system$pipe_status":
            bindings["pipe"] = a.get("pipe", argument or "") or argument
        elif name == "copy_history":
            bindings["table"] = a.get("table", argument or "") or argument
        elif name == "system$validate_storage_integration":
            bindings["integration"] = a.get("integration", argument or "") or argument
        elif name == "task_dependents":
            root = a.get("task", argument or "")
            bindings["task graph"] = _task_graph(a, root) if root else argument
        elif name == "system$send_email":
            bindings["integration"] = a.get("integration", argument or "") or argument
        elif name == "system$send_snowflake_notification":
            found = re.search(r"snowflake\.notification\.integration\('(\w+)'\)", sql, re.I)
            integration = a.get("integration", found.group(1)) if found else None
            bindings["integration"] = integration or (found.group(1) if found else None)
            secret = integration.props.get("secret") if integration else None
            bindings["secret"] = (a.objects.get(("secret", secret)) or secret) if secret else None
        elif name == "task_history":
            roots = [
                o
                for o in a.objects.values()
                if o.kind == "task"
                and not o.props.get("parent")
                and o.name.rsplit(".", 1)[0] == f"{a.database}.{a.schema}"
            ]
            bindings["task graph"] = [t for r in roots for t in _task_graph(a, r)] or None
        for need in row["needs"]:
            problem = a._unmet(need, bindings)
            if problem:
                a.fail(s, f"{name}(): {problem}", row["doc"])


def _block_statements(text: str) -> list[str]:
    """The SQL statements of a Snowflake Scripting block, control flow stripped."""
    body = re.sub(r"--[^\n]*", "", text.split("$$")[1])
    body = re.sub(r"(?is)^\s*declare\b.*?\bbegin\b", "", body)
    body = re.sub(r"(?is)^\s*begin\b", "", body)
    statements = []
    for part in body.split(";"):
        part = re.sub(r"(?is)^\s*if\s*\(.*?\)\s*then\b", "", part.strip())
        part = re.sub(r"(?is)^\s*(elseif\s*\(.*?\)\s*then|else)\b", "", part.strip())
        part = re.sub(r"(?is)^\s*exception\s+when\s+\w+\s+then\b", "", part.strip())
        part = " ".join(part.split())
        # `select ... into :variable from ...` is a query like any other: replay it without
        # its INTO clause, so it needs what a SELECT needs (a warehouse among them).
        part = re.sub(r"(?i)^(select .*?) into :\w+(?:\s*,\s*:\w+)*", r"\1", part)
        # Control flow and assignments of values already in hand (`raise e`, `n :=
        # sqlrowcount`) send no statement; an assignment from a query is a query.
        part = re.sub(r"(?i)^\w+\s*:=\s*\(?\s*(select\b.*?)\)?$", r"\1", part)
        if not part or re.match(r"(?i)^(end( if)?|return\b|raise\b|\w+\s*:=)", part):
            continue
        statements.append(part)
    return statements


def replay(statements: Iterable[Statement], rules: dict[str, Any] | None = None) -> Account:
    account = Account(rules or load_rules())
    for statement in statements:
        account.run(statement)
    return account


def task_runtime(account: Account) -> list[Statement]:
    """Each task's body, and each alert's condition and action, run as its owner in its
    schema (tasks and alerts run with their owner's rights)."""
    runtime = []
    for obj in account.objects.values():
        if obj.kind == "alert":
            database, schema = obj.props["context"]
            for sql in (f"use warehouse {obj.props['warehouse']}", obj.props["condition"]):
                runtime.append(
                    Statement(f"alert {obj.name}", normalize(sql), obj.owner, (database, schema))
                )
            runtime.append(
                Statement(
                    f"alert {obj.name}",
                    normalize(obj.props["action"]),
                    obj.owner,
                    (database, schema),
                )
            )
        if obj.kind == "task":
            database, schema = obj.props["context"]
            warehouse = f"use warehouse {obj.props['warehouse']}"
            runtime.append(Statement(f"task {obj.name}", warehouse, obj.owner, (database, schema)))
            runtime.append(
                Statement(
                    f"task {obj.name}", normalize(obj.props["body"]), obj.owner, (database, schema)
                )
            )
    return runtime


def procedure_runtime(account: Account, warehouse: str) -> list[Statement]:
    """Each owner's-rights SQL procedure's body, run as its owner on a caller's warehouse:
    what a CALL does, from the text the deploy created, not from a copy of it."""
    runtime = []
    for obj in account.objects.values():
        if obj.kind != "procedure" or not obj.props.get("body") or not obj.props["owners_rights"]:
            continue
        context = obj.props["context"]
        source = f"procedure {obj.name}"
        runtime.append(Statement(source, f"use warehouse {warehouse}", obj.owner, context))
        runtime += [
            Statement(source, inner, obj.owner, context)
            for inner in _block_statements(obj.props["body"])
        ]
    return runtime


def runtime_statements(rules: dict[str, Any], variables: dict[str, str]) -> list[Statement]:
    out = []
    for entry in rules.get("runtime", []):
        role = render(entry["role"], variables)
        database = variables["database"].upper()
        warehouse = f"use warehouse {variables['warehouse']}"
        out.append(Statement(entry["who"], warehouse, role, (database, "PUBLIC")))
        for sql in entry["sql"]:
            out.append(
                Statement(
                    entry["who"], normalize(render(sql, variables)), role, (database, "PUBLIC")
                )
            )
    return out


def alert_settings_rows(variables: dict[str, str] | None = None) -> dict[str, str]:
    """amplitude_alert_settings as sql/75 writes it, read back from the script."""
    text = render((SQL_DIR / "75_alerts.sql").read_text(), variables or VARIABLES)
    return dict(re.findall(r"\('(\w+)', '([^']*)'\)", text))


def alert_statements(sends: dict[str, str] | None = None) -> list[Statement]:
    """What amplitude_send_alerts() runs, as the pipeline role (its owner): its queries,
    built by amplitude_ingest.in_snowflake.alerts, and the sends of `sends` (channel ->
    integration), the integration bound as the procedure binds it."""
    from amplitude_ingest.in_snowflake import alerts

    settings = alerts.AlertSettings.from_rows(alert_settings_rows())
    table = f"{VARIABLES['database']}.INGEST.AMPLITUDE_ALERT_SETTINGS"
    texts = alerts.queries(settings, table)
    if sends and "email" in sends:
        texts.append(alerts.SEND_EMAIL.replace("?", f"'{sends['email']}'", 1))
    if sends and "webhook" in sends:
        texts.append(
            alerts.SEND_WEBHOOK.replace("integration(?)", f"integration('{sends['webhook']}')")
        )
    role = VARIABLES["pipeline_role"]
    context = (VARIABLES["database"].upper(), "INGEST")
    # It runs on its caller's warehouse: the finalizer's, or the alert's.
    warehouse = f"use warehouse {VARIABLES['warehouse']}"
    return [Statement("amplitude_send_alerts()", warehouse, role, context)] + [
        Statement("amplitude_send_alerts()", normalize(q), role, context) for q in texts
    ]


def unused_grants(account: Account, roles: Iterable[str]) -> list[str]:
    """Grants to these roles that no replayed statement needed: candidates for removal."""
    wanted = {r.upper() for r in roles}
    unused = []
    for obj in account.objects.values():
        for grantee, privileges in obj.grants.items():
            if grantee not in wanted:
                continue
            for privilege in sorted(privileges):
                if (grantee, obj.kind, obj.name, privilege) not in account.used_grants:
                    unused.append(f"{privilege} on {obj.kind} {obj.name} to {grantee}")
    return sorted(unused)


# ---- the deploy, in the Makefile's order -------------------------------------------------------

MAKEFILE = SQL_DIR.parent / "Makefile"
SNOWFLAKE_YML = SQL_DIR.parent / "snowflake.yml"


def makefile_list(name: str, makefile: Path = MAKEFILE) -> list[str]:
    """A `NAME := a b \\ c` list of the Makefile's deploy section."""
    text = makefile.read_text().replace("\\\n", " ")
    match = re.search(rf"^{name} :?= (.*)$", text, re.M)
    if not match:
        raise KeyError(f"{name} is not set in the Makefile")
    return match.group(1).split()


def code_statements(
    variables: dict[str, str], snowflake_yml: Path = SNOWFLAKE_YML
) -> list[Statement]:
    """What `snow snowpark deploy` and `snow dbt deploy` run, as the pipeline role.

    Derived from snowflake.yml here; tests/integration/test_snowflake_cli.py checks it
    against the SQL the pinned CLI itself generates.
    """
    database = variables["database"]
    definition = yaml.safe_load(
        snowflake_yml.read_text().replace("<% ctx.env.AMPLITUDE_DATABASE %>", database)
    )
    role = variables["pipeline_role"]
    context = (database.upper(), "INGEST")
    out = []
    procedures = [e for e in definition["entities"].values() if e["type"] == "procedure"]
    stages = sorted({entity["stage"] for entity in procedures})
    for stage in stages:
        out.append(
            Statement("snow snowpark deploy", f"create stage if not exists {stage}", role, context)
        )
    for entity in procedures:
        identifier = entity["identifier"]
        name = f"{identifier['database']}.{identifier['schema']}.{identifier['name']}"
        parts = [
            f"create or replace procedure {name}() copy grants returns {entity['returns']}",
            f"language python imports=('@{entity['stage']}/amplitude_ingest.zip')",
        ]
        if entity.get("external_access_integrations"):
            parts.append(
                f"external_access_integrations = ({', '.join(entity['external_access_integrations'])})"  # noqa: E501
            )
        if entity.get("secrets"):
            pairs = ", ".join(f"'{k}' = {v}" for k, v in entity["secrets"].items())
            parts.append(f"secrets = ({pairs})")
        out.append(Statement("snow snowpark deploy", " ".join(parts), role, context))
    out.append(
        Statement(
            "snow dbt deploy", f"create dbt project {database}.ingest.amplitude_dbt", role, context
        )
    )
    return out


def makefile_streamlit_role(makefile: Path = MAKEFILE) -> str:
    """The role `make deploy-dashboard` passes to `snow streamlit deploy --role`."""
    text = makefile.read_text().replace("\\\n", " ")
    match = re.search(r"streamlit deploy .*?--role \$\((\w+)\)", text)
    if not match:
        raise KeyError("`snow streamlit deploy` in the Makefile names no --role $(...)")
    return makefile_list(match.group(1), makefile)[0]


def dashboard_statements(
    variables: dict[str, str], sql_dir: Path = SQL_DIR, snowflake_yml: Path = SNOWFLAKE_YML
) -> list[Statement]:
    """`make deploy-dashboard`: DASHBOARD_SQL, what `snow streamlit deploy` creates, then
    DASHBOARD_ACCESS_SQL.

    The CLI (versioned deploy) runs CREATE STREAMLIT IF NOT EXISTS with the entity's
    identifier, MAIN_FILE, QUERY_WAREHOUSE and TITLE as the role the Makefile passes (the
    dashboard role), then uploads the files to the app's own live version: no named stage.
    """
    out: list[Statement] = []
    for name in makefile_list("DASHBOARD_SQL"):
        out += script_statements(sql_dir / f"{name}.sql", variables)
    text = (
        snowflake_yml.read_text()
        .replace("<% ctx.env.AMPLITUDE_DATABASE %>", variables["database"])
        .replace("<% ctx.env.AMPLITUDE_WAREHOUSE %>", variables["warehouse"])
    )
    for entity in yaml.safe_load(text)["entities"].values():
        if entity["type"] != "streamlit":
            continue
        identifier = entity["identifier"]
        name = f"{identifier['database']}.{identifier['schema']}.{identifier['name']}"
        out.append(
            Statement(
                "snow streamlit deploy",
                f"create streamlit if not exists {name} main_file = '{entity['main_file']}' "
                f"query_warehouse = {entity['query_warehouse']} title = '{entity['title']}'",
                makefile_streamlit_role(),
                (variables["database"].upper(), identifier["schema"].upper()),
            )
        )
    for name in makefile_list("DASHBOARD_ACCESS_SQL"):
        out += script_statements(sql_dir / f"{name}.sql", variables)
    return out


def deploy_statements(
    variables: dict[str, str],
    sql_dir: Path = SQL_DIR,
    setup: list[str] | None = None,
    graph: list[str] | None = None,
    resume: list[str] | None = None,
    code: list[Statement] | None = None,
    doctor: list[Statement] | None = None,
    dashboard: list[Statement] | None = None,
) -> list[Statement]:
    """The deploy: set-up scripts, code, graph scripts, the dashboard, the doctor, resume."""
    setup = setup if setup is not None else makefile_list("SETUP_SQL")
    graph = graph if graph is not None else makefile_list("GRAPH_SQL")
    resume = resume if resume is not None else makefile_list("RESUME_SQL")
    out: list[Statement] = []
    for name in setup:
        out += script_statements(sql_dir / f"{name}.sql", variables)
    out += code if code is not None else code_statements(variables)
    for name in graph:
        out += script_statements(sql_dir / f"{name}.sql", variables)
    out += dashboard or []
    out += doctor or []
    for name in resume:
        out += script_statements(sql_dir / f"{name}.sql", variables)
    return out


# ---- the Native App (app/) ----------------------------------------------------------------
# The app's replay is an account of its own: the application is a role (APP_ROLE) that owns
# its database and everything its setup script creates, and holds exactly the global
# privileges its manifest asks for (manifest_version 2 grants them at install:
# developer-guide/native-apps/requesting-auto-privs). Application roles are roles; a
# consumer's role gets one with GRANT APPLICATION ROLE.

APP_DATABASE = "AMPLITUDE_CONNECTOR"
APP_ROLE = "AMPLITUDE_CONNECTOR"
APP_SETUP_SOURCE = "app/setup_script.sql"
# The session that runs CREATE APPLICATION (`snow app run`: snowflake.yml's meta.warehouse).
INSTALLER_WAREHOUSE = "INSTALLER_WH"
CONSUMER_WAREHOUSE = "CONSUMER_WH"
# The consumer's roles: the one that runs dbt gets app_reader, the installer app_admin.
CONSUMER_ROLES = {"AMPLITUDE_DBT": "APP_READER", "AMPLITUDE_APP_OWNER": "APP_ADMIN"}
APP_VARIABLES = {"app": APP_DATABASE, "app_role": APP_ROLE}


def app_account(
    rules: dict[str, Any] | None = None, privileges: Iterable[str] | None = None
) -> Account:
    """A consumer account before the install: the app's database and global privileges
    (the manifest's, or `privileges`), and the warehouses the sessions run on."""
    from tests.native_app import manifest

    account = Account(rules or load_rules())
    account.application = APP_ROLE
    account.granted_roles[APP_ROLE] = set()
    asked = (
        privileges if privileges is not None else [next(iter(p)) for p in manifest()["privileges"]]
    )
    account.global_privileges[APP_ROLE] = set(asked)
    account.role = APP_ROLE
    account.create("database", APP_DATABASE)
    account.role = "ACCOUNTADMIN"
    # An assumption an account must confirm (README, "What was checked only offline"):
    # the setup script's queries (MERGE, CALL) run on the installing session's warehouse.
    account.create("warehouse", INSTALLER_WAREHOUSE).grants[APP_ROLE] = {"USAGE"}
    consumer = account.create("warehouse", CONSUMER_WAREHOUSE)
    for role in CONSUMER_ROLES:
        account.granted_roles.setdefault(role, set())
        consumer.grants[role] = {"USAGE"}
    account.role = "PUBLIC"
    return account


def app_setup_statements(path: Path | None = None) -> list[Statement]:
    """The setup script, statement by statement, as the app runs it on install/upgrade."""
    from tests.native_app import setup_script

    context = (APP_DATABASE, "PUBLIC")
    out = [Statement(APP_SETUP_SOURCE, f"use warehouse {INSTALLER_WAREHOUSE}", APP_ROLE, context)]
    out += [
        Statement(APP_SETUP_SOURCE, normalize(part), APP_ROLE, context)
        for part in split_statements((path or setup_script()).read_text())
        if normalize(part)
    ]
    return out


def grant_application_roles(account: Account) -> None:
    """What the consumer grants by hand (README): GRANT APPLICATION ROLE <app>.<role> TO
    ROLE <role>. An application role reaches the app's schemas through the app itself:
    modelled as USAGE on the app's database."""
    database = account.get("database", APP_DATABASE)
    assert database is not None
    for role, application_role in CONSUMER_ROLES.items():
        account.granted_roles[role].add(application_role)
        database.grants.setdefault(application_role, set()).add("USAGE")


def app_procedure_statements() -> list[Statement] | None:
    """What the app's Python procedures send, from the builders that send them
    (amplitude_ingest.in_snowflake.native_app.statements, helper i17-procs'), as the app on
    its warehouse; None while that module is not on this branch."""
    try:
        from amplitude_ingest.in_snowflake.native_app.statements import (  # type: ignore[import-not-found,unused-ignore]
            statements,
        )
    except ImportError:
        return None
    context = (APP_DATABASE, "PUBLIC")
    out = []
    for procedure, texts in statements().items():
        source = f"code.{procedure}()"
        out.append(Statement(source, "use warehouse amplitude_connector_wh", APP_ROLE, context))
        out += [Statement(source, normalize(text), APP_ROLE, context) for text in texts]
    return out


def app_runtime_statements(rules: dict[str, Any]) -> list[Statement]:
    """sql/privileges.yml's app_runtime: what the app's procedures run (as the app) and what
    consumers run through the application roles."""
    out = []
    for entry in rules.get("app_runtime", []):
        role = render(entry["role"], APP_VARIABLES).upper()
        warehouse = entry["warehouse"]  # the caller's: a consumer's, or the app's tasks'
        context = (APP_DATABASE, "PUBLIC")
        out.append(Statement(entry["who"], f"use warehouse {warehouse}", role, context))
        out += [
            Statement(entry["who"], normalize(render(sql, APP_VARIABLES)), role, context)
            for sql in entry["sql"]
        ]
    return out
