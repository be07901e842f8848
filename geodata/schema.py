"""The schema as the database has it: a text snapshot of a migrated database, read from the
PostgreSQL catalogs.

The schema of record is the SQL of the migrations (``geodata/sql/NNNN_*.sql``, run in order by
the Alembic revisions in ``geodata/migrations/versions``). Nothing in Python mirrors it: every
statement is SQL text, so an ORM copy of the tables would be read by no code. What a reader (or
a reviewer of a new migration) wants instead — the whole schema in one place — is
:data:`SNAPSHOT`, written by :func:`schema_snapshot` from a database migrated to head and kept
honest by ``tests/geodata/test_migrations.py``: a migration that changes anything changes the
snapshot, and the diff shows exactly what.

Covered, per table (in name order): every column with its type as PostgreSQL prints it (with
length, geometry type and SRID), ``not null`` and default; every constraint (primary key,
unique, foreign key, CHECK) with its definition; every index and trigger with its definition.
Then the functions of the schema (signature, result type and an md5 of the body: the bodies
are in the SQL files). Objects that belong to an extension (PostGIS's ``spatial_ref_sys``, its
functions and views) are left out.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = ["SNAPSHOT", "schema_snapshot"]

#: The checked-in snapshot of the schema at the head revision.
SNAPSHOT = Path(__file__).resolve().parent / "sql" / "schema.txt"

# Relations of the schema that no extension owns: tables, views, materialised views.
_RELATIONS = text(
    """
    SELECT c.oid, c.relname, c.relkind
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v', 'm')
      AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND d.deptype = 'e')
    ORDER BY c.relname
    """
)

_COLUMNS = text(
    """
    SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
           a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default_expr
    FROM pg_attribute AS a
    LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = :oid AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum
    """
)

_CONSTRAINTS = text(
    """
    SELECT conname AS name, pg_get_constraintdef(oid) AS definition
    FROM pg_constraint WHERE conrelid = :oid ORDER BY conname
    """
)

_INDEXES = text(
    """
    SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition
    FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid
    WHERE x.indrelid = :oid ORDER BY i.relname
    """
)

_TRIGGERS = text(
    """
    SELECT tgname AS name, pg_get_triggerdef(oid) AS definition
    FROM pg_trigger WHERE tgrelid = :oid AND NOT tgisinternal ORDER BY tgname
    """
)

_VIEW = text("SELECT pg_get_viewdef(CAST(:oid AS oid), true)")

_FUNCTIONS = text(
    """
    SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS signature,
           pg_get_function_result(p.oid) AS result, md5(p.prosrc) AS body_md5
    FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
    WHERE n.nspname = :schema
      AND NOT EXISTS (SELECT 1 FROM pg_depend AS d
                      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                        AND d.deptype = 'e')
    ORDER BY 1, 2
    """
)

#: Where the migrations create everything.
_SCHEMA = "public"
_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view"}


def schema_snapshot(conn: Connection) -> str:
    """The text snapshot of the ``public`` schema (see the module docstring): one line per
    object, deterministic for a given schema, ending in a newline."""
    out: list[str] = []
    for rel in conn.execute(_RELATIONS, {"schema": _SCHEMA}).all():
        out.append(f"{_KINDS[rel.relkind]} {rel.relname}")
        for c in conn.execute(_COLUMNS, {"oid": rel.oid}).all():
            line = f"  column {c.name} {c.type}"
            line += " not null" if c.not_null else ""
            line += f" default {c.default_expr}" if c.default_expr is not None else ""
            out.append(line)
        if rel.relkind in ("v", "m"):
            view = " ".join(conn.execute(_VIEW, {"oid": rel.oid}).scalar_one().split())
            out.append(f"  as {view}")
        for kind, sql in (("constraint", _CONSTRAINTS), ("index", _INDEXES),
                          ("trigger", _TRIGGERS)):  # fmt: skip
            for r in conn.execute(sql, {"oid": rel.oid}).all():
                out.append(f"  {kind} {r.name} {r.definition}")
    for f in conn.execute(_FUNCTIONS, {"schema": _SCHEMA}).all():
        out.append(f"function {f.signature} returns {f.result} body md5 {f.body_md5}")
    return "\n".join(out) + "\n"
