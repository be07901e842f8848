"""geodata.schema: the migrated database's schema is exactly the checked-in snapshot
(``geodata/sql/schema.txt``), and the snapshot names every object the migration SQL creates.

After a migration that changes the schema on purpose, rewrite the snapshot and review its diff:
``GRIDCMD_UPDATE_SCHEMA=1 .venv/bin/python -m pytest tests/geodata/test_schema.py``.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

from geodata.migrate import split_sql
from geodata.schema import SNAPSHOT, schema_snapshot

SQL_DIR = Path(SNAPSHOT).parent

_BODY = re.compile(r"\$\$.*?\$\$", re.S)
_DROP = re.compile(
    r"\bDROP\s+(TABLE|INDEX|FUNCTION|TRIGGER|CONSTRAINT)\s+(?:IF\s+EXISTS\s+)?(\w+)", re.I
)
_CREATE = re.compile(
    r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:UNIQUE\s+)?(TABLE|INDEX|FUNCTION|TRIGGER)\s+"
    r"(?:IF\s+NOT\s+EXISTS\s+)?(\w+)",
    re.I,
)
_CONSTRAINT = re.compile(r"(?<!DROP )\bCONSTRAINT\s+(\w+)", re.I)

#: How the snapshot writes an object of each kind.
_LINE = {
    "table": "table {}\n",
    "index": "  index {} ",
    "constraint": "  constraint {} ",
    "trigger": "  trigger {} ",
    "function": "function {}(",
}


def sql_file_objects() -> set[tuple[str, str]]:
    """``(kind, name)`` of the tables, indexes, named constraints, functions and triggers the
    migration SQL files create, in order, less those a later statement drops."""
    alive: set[tuple[str, str]] = set()
    for path in sorted(SQL_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql")):
        for stmt in split_sql(path.read_text(encoding="utf-8")):
            stmt = _BODY.sub("$$ $$", stmt)
            for kind, name in _DROP.findall(stmt):
                alive.discard((kind.lower(), name.lower()))
            alive |= {(kind.lower(), name.lower()) for kind, name in _CREATE.findall(stmt)}
            alive |= {("constraint", name.lower()) for name in _CONSTRAINT.findall(stmt)}
    return alive


def test_migrated_schema_matches_snapshot(engine):
    with engine.connect() as conn:
        actual = schema_snapshot(conn)
    if os.environ.get("GRIDCMD_UPDATE_SCHEMA") == "1":
        SNAPSHOT.write_text(actual, encoding="utf-8")
    expected = SNAPSHOT.read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(True), actual.splitlines(True), "schema.txt", "migrated"
        )
    )
    assert actual == expected, "the migrated schema differs from the snapshot:\n" + diff


def test_snapshot_names_what_the_sql_files_create():
    snapshot = SNAPSHOT.read_text(encoding="utf-8")
    objects = sql_file_objects()
    # The parse must see the schema's main objects, or this test would check nothing.
    assert {("table", "grid_cell"), ("index", "ix_grid_cell_geom"),
            ("constraint", "ck_security_log_kind"), ("function", "gridcmd_live_log"),
            ("trigger", "event_live_insert")} <= objects  # fmt: skip
    missing = sorted(
        f"{kind} {name}" for kind, name in objects if _LINE[kind].format(name) not in snapshot
    )
    assert not missing, f"created by geodata/sql/*.sql but not in the snapshot: {missing}"
