"""gridcmd.vocab, the one home of the shared vocabulary: every value has a label in both UI
languages, the module imports nothing of the project, and the schema's CHECK constraints
allow exactly its values."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import text

from gridcmd import vocab
from gridcmd.i18n import CATALOGS, LANGS

#: (values, value → msgid) pairs of the vocabulary.
LABELLED = {
    "levels": (tuple(vocab.LEVELS), vocab.LEVEL_MSGIDS),
    "categories": (vocab.EVENT_CATEGORIES, vocab.CATEGORY_MSGIDS),
    "difficulties": (vocab.DIFFICULTIES, vocab.DIFFICULTY_MSGIDS),
    "severities": (vocab.SEVERITIES, vocab.SEVERITY_MSGIDS),
    "statuses": (vocab.EVENT_STATUSES, vocab.STATUS_MSGIDS),
    "priorities": (vocab.PRIORITIES, vocab.PRIORITY_MSGIDS),
    "duty": (vocab.DUTY_STATUSES, vocab.DUTY_MSGIDS),
    "roles": (vocab.ROLES, vocab.ROLE_MSGIDS),
    "department kinds": (vocab.DEPARTMENT_KINDS, vocab.DEPARTMENT_KIND_MSGIDS),
    "stream kinds": (vocab.STREAM_KINDS, vocab.STREAM_KIND_MSGIDS),
    "security kinds": (vocab.SECURITY_KINDS, vocab.SECURITY_KIND_MSGIDS),
    "metrics": (vocab.METRICS, vocab.METRIC_MSGIDS),
}


@pytest.mark.parametrize("name", sorted(LABELLED))
def test_every_value_has_a_label_in_every_language(name):
    values, msgids = LABELLED[name]
    assert set(msgids) == set(values), f"{name}: values without a label or labels without a value"
    for lang in LANGS:
        missing = [msgids[v] for v in values if not CATALOGS[lang].get(msgids[v])]
        assert not missing, f"{name}: no {lang} translation for {missing}"
    zh = [CATALOGS["zh"][msgids[v]] for v in values]
    assert len(set(zh)) == len(zh), f"{name}: two values share a Chinese label"


def test_statuses_are_open_or_closed_once():
    assert set(vocab.OPEN_STATUSES) | set(vocab.CLOSED_STATUSES) <= set(vocab.EVENT_STATUSES)
    assert not set(vocab.OPEN_STATUSES) & set(vocab.CLOSED_STATUSES)


def test_permissions_cover_every_role():
    assert set(vocab.PERMISSIONS) == set(vocab.ROLES)


@pytest.mark.parametrize(
    ("code", "ok"),
    [("532900", True), ("53290100100301801", True), ("5329", False), ("53290a", False),
     ("５３２９００", False), ("1" * 24, True), ("1" * 25, False), ("532900.1", False)],
)  # fmt: skip
def test_cell_code_pattern(code, ok):
    assert bool(vocab.CELL_CODE_RE.fullmatch(code)) is ok


def test_vocab_and_zoom_import_nothing_of_the_project():
    root = Path(vocab.__file__).resolve().parents[1]
    project = {p.name for p in root.iterdir() if p.is_dir()} | {"app"}
    for module in ("vocab.py", "zoom.py"):
        tree = ast.parse((root / "gridcmd" / module).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for n in names:
                assert n.split(".")[0] not in project, f"gridcmd/{module} imports {n}"


#: CHECK constraint → the vocabulary it must list.
CONSTRAINTS = {
    "ck_event_category": vocab.EVENT_CATEGORIES,
    "ck_event_severity": vocab.SEVERITIES,
    "ck_event_status": vocab.EVENT_STATUSES,
    "ck_grid_worker_duty": vocab.DUTY_STATUSES,
    "ck_worker_position_source": vocab.POSITION_SOURCES,
    "ck_account_role": vocab.ROLES,
    "ck_role_policy_role": vocab.ROLES,
    "ck_department_kind": vocab.DEPARTMENT_KINDS,
    "ck_deadline_policy_priority": vocab.PRIORITIES,
    "ck_security_log_kind": vocab.SECURITY_KINDS,
}


@pytest.mark.parametrize("name", sorted(CONSTRAINTS))
def test_schema_allows_exactly_the_vocabulary(engine, name):
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :n"),
            {"n": name},
        ).scalars().all()  # fmt: skip
    assert rows, f"no constraint {name}"
    for definition in rows:
        listed = set(__import__("re").findall(r"'([a-z_]+)'", definition))
        assert listed == set(CONSTRAINTS[name]), (name, definition)
