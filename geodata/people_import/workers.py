"""``gridcmd import workers``: the grid-worker roster from a CSV/XLSX file, all rows or none.

Rows are checked in Python (the roster's own rules: employee number, name, phone, duty status;
duplicates within the file), then copied into a temporary table; unknown grid codes and cells
that are not grids or micro-grids (levels 5, 6) are found by one join. With no error the load
is four statements whatever the file's size: the upsert by employee number, closing the open
assignments of the workers whose cell changed, opening theirs and the new workers' (the
``worker_assignment`` history that :func:`geodata.roster.move_worker` keeps, with a note
naming the import), and one ``roster_change`` security-log row.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.people_import.result import ImportResult, RowError, copy_rows, read_rows
from geodata.people_import.table import EXAMPLE_MARK
from geodata.roster.checks import RosterError, clean_employee_no, clean_name, clean_phone
from geodata.security_log import log_security
from geodata.stats import NOW_SQL
from gridcmd.vocab import CELL_CODE_RE, DUTY_STATUSES

__all__ = ["WORKER_COLUMNS", "RowError", "WorkerImport", "import_workers",
           "worker_template_rows"]  # fmt: skip

#: Field → accepted headers (the first is the template's); matched without case and spaces.
WORKER_COLUMNS: dict[str, tuple[str, ...]] = {
    "employee_no": ("工号", "员工编号", "编号", "employee_no", "employeeno", "employeenumber"),
    "name": ("姓名", "name"),
    "phone": ("手机号", "手机号码", "电话", "联系电话", "phone", "mobile"),
    "cell_code": (
        "网格编码",
        "网格代码",
        "网格",
        "cell_code",
        "cellcode",
        "grid_code",
        "gridcode",
        "grid",
    ),  # fmt: skip
    "duty_status": ("在岗状态", "状态", "duty_status", "dutystatus", "duty"),
}
REQUIRED = ("employee_no", "name", "phone", "cell_code")
#: Duty-status values a file may hold (the vocabulary's keys and its English labels too).
DUTY_VALUES = {
    "在岗": "on_duty", "在线": "on_duty", "上岗": "on_duty",
    "离岗": "off_duty", "不在岗": "off_duty", "下岗": "off_duty", "离线": "off_duty",
    "休假": "on_leave", "请假": "on_leave",
    "on duty": "on_duty", "off duty": "off_duty", "on leave": "on_leave",
    **{s: s for s in DUTY_STATUSES},
}  # fmt: skip


class WorkerImport(ImportResult):
    """What a worker import did (or, with ``dry_run`` or errors, would do)."""


def _check_rows(headers, rows, cols, res: WorkerImport) -> list[tuple]:
    """The rows to stage: checked values, or for a bad row only its (valid) grid code, so
    that its grid is checked too (a bad row makes the import fail anyway)."""
    good: list[tuple] = []
    seen: dict[str, int] = {}
    checks = {"employee_no": clean_employee_no, "name": clean_name, "phone": clean_phone}
    for no, cells in rows:
        values: dict[str, str] = {}
        ok = True
        for f, check in checks.items():
            try:
                values[f] = check(cells[cols[f]])
            except RosterError as exc:
                res.error(no, headers[cols[f]], str(exc))
                ok = False
        code = cells[cols["cell_code"]]
        if not CELL_CODE_RE.fullmatch(code):
            res.error(no, headers[cols["cell_code"]], f"not a cell code: {code!r}")
            ok = False
        duty = cells[cols["duty_status"]] if "duty_status" in cols else ""
        status = DUTY_VALUES.get(duty.lower() if duty else "off_duty")
        if status is None:
            res.error(no, headers[cols["duty_status"]],
                      f"unknown duty status {duty!r} (在岗, 离岗, 休假 or "
                      f"{', '.join(DUTY_STATUSES)})")  # fmt: skip
            ok = False
        emp = values.get("employee_no")
        if emp is not None:
            if emp in seen:
                res.error(no, headers[cols["employee_no"]],
                          f"employee number {emp} already on row {seen[emp]}")  # fmt: skip
                ok = False
            else:
                seen[emp] = no
        if ok:
            good.append((no, emp, values["name"], values["phone"], code, status))
        elif CELL_CODE_RE.fullmatch(code):  # staged for the grid-code check only
            good.append((no, None, None, None, code, None))
    return good


def _stage(conn: Connection, good: list[tuple]) -> None:
    conn.execute(text(
        "CREATE TEMP TABLE worker_import_stage (row_no int, employee_no text, name text, "
        "phone text, cell_code text, duty_status text, cell_id bigint, worker_id bigint, "
        "old_cell_id bigint, active boolean) ON COMMIT DROP"
    ))  # fmt: skip
    copy_rows(conn, "COPY worker_import_stage (row_no, employee_no, name, phone, cell_code, "
                    "duty_status) FROM STDIN (FORMAT csv)", good)  # fmt: skip
    # Each row's cell and, for a known employee number, the worker as they are now.
    conn.execute(text(
        "UPDATE worker_import_stage AS s SET cell_id = c.id FROM grid_cell AS c "
        "WHERE c.code = s.cell_code AND c.level IN (5, 6)"
    ))  # fmt: skip
    conn.execute(text(
        "UPDATE worker_import_stage AS s SET worker_id = w.id, old_cell_id = w.cell_id, "
        "active = w.active FROM grid_worker AS w WHERE w.employee_no = s.employee_no"
    ))  # fmt: skip


def import_workers(
    conn: Connection,
    path: Path,
    *,
    dry_run: bool = False,
    username: str = "gridcmd",
    now: dt.datetime | None = None,
) -> WorkerImport:
    """Import the workers of the file ``path`` in the caller's transaction (a savepoint):
    new employee numbers are added (active, assigned to their cell), known ones get the
    file's name, phone, cell and duty status (a changed cell closes the open assignment and
    opens one noting the import). With any row error, or ``dry_run``, nothing is changed and
    the result tells what would have been. Raises TableError when the file is unreadable."""
    res = WorkerImport()
    table = read_rows(path, WORKER_COLUMNS, REQUIRED, res)
    if table is None:
        return res
    headers, rows, cols = table
    good = _check_rows(headers, rows, cols, res)
    note = f"import {Path(path).name}"[:200]
    with conn.begin_nested() as sp:
        _stage(conn, good)
        bad = conn.execute(text(
            "SELECT s.row_no, s.cell_code, c.level FROM worker_import_stage AS s "
            "LEFT JOIN grid_cell AS c ON c.code = s.cell_code "
            "WHERE s.cell_id IS NULL ORDER BY s.row_no"
        )).all()  # fmt: skip
        for b in bad:
            why = (
                "unknown grid code"
                if b.level is None
                else f"a level {b.level} cell; workers belong to grids or micro-grids (5, 6)"
            )
            res.error(b.row_no, headers[cols["cell_code"]], f"{b.cell_code}: {why}")  # fmt: skip
        counts = conn.execute(text(
            "SELECT count(*) FILTER (WHERE s.worker_id IS NULL) AS new, "
            "  count(*) FILTER (WHERE s.worker_id IS NOT NULL AND (w.name, w.phone, "
            "    w.cell_id, w.duty_status) IS DISTINCT FROM "
            "    (s.name, s.phone, s.cell_id, CASE WHEN w.active THEN s.duty_status "
            "    ELSE 'off_duty' END)) AS upd, "
            "  count(*) FILTER (WHERE s.active AND s.cell_id <> s.old_cell_id) AS moved "
            "FROM worker_import_stage AS s LEFT JOIN grid_worker AS w ON w.id = s.worker_id"
        )).one()  # fmt: skip
        res.inserted, res.updated, res.moved = counts.new, counts.upd, counts.moved
        res.unchanged = max(0, len(good) - res.inserted - res.updated)
        if res.error_count or dry_run:
            sp.rollback()
            return res
        _load(conn, note, now)
        log_security(conn, "roster_change", username=username, target="import workers",
                     detail=f"{note}: {res.inserted} new, {res.updated} updated, "
                            f"{res.moved} moved")  # fmt: skip
        conn.execute(text("DROP TABLE worker_import_stage"))
    return res


def _load(conn: Connection, note: str, now: dt.datetime | None) -> None:
    p = {"note": note, "now": now}
    # Close first: the open-assignment index allows one open row per worker.
    conn.execute(text(
        f"UPDATE worker_assignment AS a SET ended_at = greatest(a.started_at, {NOW_SQL}) "
        "FROM worker_import_stage AS s WHERE a.worker_id = s.worker_id AND s.active "
        "AND s.cell_id <> s.old_cell_id AND a.ended_at IS NULL"
    ), p)  # fmt: skip
    conn.execute(text(
        "UPDATE grid_worker AS w SET name = s.name, phone = s.phone, cell_id = s.cell_id, "
        "  duty_status = CASE WHEN w.active THEN s.duty_status ELSE 'off_duty' END "
        "FROM worker_import_stage AS s WHERE w.id = s.worker_id AND (w.name, w.phone, "
        "  w.cell_id, w.duty_status) IS DISTINCT FROM (s.name, s.phone, s.cell_id, "
        "  CASE WHEN w.active THEN s.duty_status ELSE 'off_duty' END)"
    ))  # fmt: skip
    conn.execute(text(
        "INSERT INTO grid_worker (employee_no, name, phone, cell_id, duty_status, active, "
        "  synthetic) "
        "SELECT employee_no, name, phone, cell_id, duty_status, true, false "
        "FROM worker_import_stage WHERE worker_id IS NULL ORDER BY row_no "
        "ON CONFLICT (employee_no) DO NOTHING"
    ))  # fmt: skip
    conn.execute(text(
        "INSERT INTO worker_assignment (worker_id, cell_id, started_at, note) "
        f"SELECT w.id, s.cell_id, {NOW_SQL}, "
        "  CASE WHEN s.worker_id IS NULL THEN 'added by ' || :note ELSE :note END "
        "FROM worker_import_stage AS s JOIN grid_worker AS w ON w.employee_no = s.employee_no "
        "WHERE s.worker_id IS NULL OR (s.active AND s.cell_id <> s.old_cell_id)"
    ), p)  # fmt: skip


def worker_template_rows() -> tuple[list[str], list[str]]:
    """The template's Chinese headers and its example row (marked, so an import skips it)."""
    headers = [names[0] for names in WORKER_COLUMNS.values()]
    example = [f"{EXAMPLE_MARK}GW-000001", "张三", "13800000000", "532901001001001", "在岗"]
    return headers, example
