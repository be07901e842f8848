"""Event-table export benchmark: ``GET /export/events.csv`` and ``/export/events.xlsx`` through
the real route, at 10,000 and 100,000 rows, beside the pre-optimisation code path measured in
the same run.

Run ``DATABASE_URL=<db with ≥ 100,000 events> python -m bench.exports [--runs 3]``
(or ``--database-url``). The demo has ~9,000 events: copy it and multiply its events first
(docs/event-table.md says how). It writes to the database what an export writes: a session
of the demo commander (revoked at the end) and one ``export`` security-log entry per request.

* The app is built as gunicorn would build it (``app.create_app``) and called through Flask's
  test client with the demo prefecture commander's session (``commander``: the whole
  prefecture, the ``export`` permission); each response is read to its last byte. Times are
  wall-clock seconds for the whole request (permission check, count, security log, the
  streamed query, formatting, the file), the median of ``--runs``; rows/s from it; CPU
  seconds of this process (PostgreSQL's work is not in it); the peak resident memory growth
  of this process during the request (``/proc/self/clear_refs`` resets the peak).
* 10,000 rows: the same route with the cap (``api.exports.EXPORT_MAX``) lowered to 10,000,
  so the rows are the first 10,000 in sort order (newest first).
* Baseline, same run, runs interleaved with the optimised ones (the machine is shared): the
  exporter as it was before it was optimised — ``export_values`` per row, the guard and
  ``strftime`` per cell, one openpyxl ``WriteOnlyCell`` per XLSX cell, 1,000-row fetches —
  swapped into the same route. Floor: the rows alone (``geodata.event_table.iter_event_rows``:
  the query, the server-side cursor, the masking), no formatting, no file.
* Checks: every response is 200 with ``X-Gridcmd-Export-Rows`` as expected; at 10,000 rows
  the optimised and the baseline CSV are identical and the two XLSX files hold the same
  values (read back with openpyxl).

Only the section between the ``bench.exports`` markers of ``bench/RESULTS.md`` is replaced.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import hashlib
import io
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    cli_main,
    cpu_model,
    git_commit,
    log,
    md_table,
    mem_total_gb,
    write_marked_section,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
MARK_START = "<!-- bench.exports:start -->"
MARK_END = "<!-- bench.exports:end -->"
DEMO_USER = "commander"  # the demo's prefecture commander (geodata/demo/accounts.py)
SIZES = (10_000, 100_000)
FORMATS = ("csv", "xlsx")
MB = 1024 * 1024


# --------------------------------------------------------------------------- the baseline
# api/exports.py before it was optimised (same files; verified against it below).


def _baseline_row_cells(lang: str, *, text_times: bool = False):
    from dashboard.event_table import export_values

    return lambda row: export_values(row, lang)


def _baseline_csv_lines(header: list[str], rows: Iterator[list[Any]]) -> Iterator[str]:
    from api.exports import guard_cell

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")

    def flush() -> str:
        out = buf.getvalue()
        buf.seek(0)
        buf.truncate(0)
        return out

    writer.writerow(header)
    yield "\ufeff" + flush()
    for n, row in enumerate(rows, 1):
        writer.writerow(
            [v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, dt.datetime) else guard_cell(v)
             for v in row]
        )  # fmt: skip
        if n % 500 == 0:
            yield flush()
    yield flush()


def _baseline_xlsx_file(header: list[str], rows: Iterator[list[Any]]) -> Any:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    from api.exports import guard_cell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("events")
    ws.freeze_panes = "A2"
    ws.append(header)
    for row in rows:
        cells = []
        for v in row:
            if isinstance(v, dt.datetime):
                c = WriteOnlyCell(ws, value=v)
                c.number_format = "yyyy-mm-dd hh:mm:ss"
            else:
                v = guard_cell(v)
                c = WriteOnlyCell(ws, value=v)
                if isinstance(v, str):
                    c.data_type = "s"
            cells.append(c)
        ws.append(cells)
    f = tempfile.SpooledTemporaryFile(max_size=8_000_000)  # noqa: SIM115 (sent, then closed)
    wb.save(f)
    f.seek(0)
    return f


@contextlib.contextmanager
def exporter(variant: str, cap: int) -> Iterator[None]:
    """The route's exporter (``optimised`` or ``baseline``) and row cap while the block runs."""
    import api.exports as ex

    saved = {k: getattr(ex, k) for k in ("row_cells", "_csv_lines", "_xlsx_file",
                                         "_FETCH_BATCH", "EXPORT_MAX")}  # fmt: skip
    try:
        ex.EXPORT_MAX = cap
        if variant == "baseline":
            ex.row_cells, ex._csv_lines = _baseline_row_cells, _baseline_csv_lines
            ex._xlsx_file, ex._FETCH_BATCH = _baseline_xlsx_file, 1_000
        yield
    finally:
        for k, v in saved.items():
            setattr(ex, k, v)


# --------------------------------------------------------------------------- measuring


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _rss_kb(field_name: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass
class Case:
    variant: str  # optimised | baseline
    fmt: str
    rows: int
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    size: int = 0
    digest: str = ""
    body: bytes = b""  # kept at 10,000 rows for the equivalence check

    def median(self, values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")


def fetch(client, case: Case, keep: bool) -> None:
    """One export through the route, read to the end."""
    with exporter(case.variant, case.rows):
        can_peak = _reset_peak_rss()
        rss0 = _rss_kb("VmRSS")
        c0, t0 = time.process_time(), time.perf_counter()
        resp = client.get(f"/export/events.{case.fmt}", buffered=False)
        h = hashlib.sha256()
        chunks = []
        size = 0
        for chunk in resp.response:
            chunk = chunk.encode() if isinstance(chunk, str) else chunk
            h.update(chunk)
            size += len(chunk)
            if keep:
                chunks.append(chunk)
        resp.close()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = _rss_kb("VmHWM")
    if resp.status_code != 200:
        raise RuntimeError(f"{case.fmt} export answered {resp.status_code}")
    if resp.headers.get("X-Gridcmd-Export-Rows") != str(case.rows):
        raise RuntimeError(f"expected {case.rows} rows, got "
                           f"{resp.headers.get('X-Gridcmd-Export-Rows')}")  # fmt: skip
    case.wall.append(wall)
    case.cpu.append(cpu)
    if can_peak and peak is not None and rss0 is not None:
        case.peak_mb.append(max(peak - rss0, 0) / 1024)
    case.size, case.digest = size, h.hexdigest()
    if keep:
        case.body = b"".join(chunks)


def floor_rows(engine, scope: str, n: int) -> float:
    """Seconds to stream ``n`` rows from the query (with masking), no formatting."""
    from geodata.event_table import iter_event_rows, parse_filters

    t0 = time.perf_counter()
    with engine.connect() as conn:
        for _ in iter_event_rows(conn, scope_path=scope, filters=parse_filters({}), limit=n,
                                 now=dt.datetime.now(dt.UTC), batch=2_000):  # fmt: skip
            pass
    return time.perf_counter() - t0


def xlsx_values(body: bytes) -> list[tuple]:
    import openpyxl

    ws = openpyxl.load_workbook(io.BytesIO(body), read_only=True)["events"]
    return list(ws.iter_rows(values_only=True))


def measure(engine, url: str, runs: int) -> dict:
    from sqlalchemy import text

    from api.auth import SESSION_COOKIE
    from app import create_app
    from geodata.accounts import account_id_for
    from geodata.sessions import create_session, revoke_session
    from gridcmd.settings import Settings

    with engine.connect() as conn:
        n_events = conn.execute(text("SELECT count(*) FROM event")).scalar_one()
        n_synthetic = conn.execute(text("SELECT count(*) FROM event WHERE synthetic")).scalar_one()
        scope = conn.execute(text("SELECT path::text FROM grid_cell WHERE level = 1")).scalar_one()
    if n_events < max(SIZES):
        from bench.common import BenchError

        raise BenchError(f"the database has {n_events:,} events; the benchmark needs "
                         f"{max(SIZES):,} (see docs/event-table.md)")  # fmt: skip
    with tempfile.TemporaryDirectory() as var:
        settings = Settings(DATABASE_URL=url, secret_key=os.urandom(16).hex(),
                            basemap_url=None, var_dir=Path(var))  # fmt: skip
        server = create_app(settings, engine=engine).server
        now = dt.datetime.now(dt.UTC)
        with engine.begin() as conn:
            account = account_id_for(conn, DEMO_USER)
            if account is None:
                from bench.common import BenchError

                raise BenchError(f"no account {DEMO_USER!r} (the demo's accounts)")
            token = create_session(conn, account, ip="127.0.0.1", ua="bench.exports", now=now)
        client = server.test_client()
        client.set_cookie(SESSION_COOKIE, token)
        cases = {(v, f, n): Case(v, f, n) for n in SIZES for f in FORMATS
                 for v in ("optimised", "baseline")}  # fmt: skip
        try:
            log("warm-up (one 10,000-row export of each kind)")
            for f in FORMATS:
                for v in ("optimised", "baseline"):
                    fetch(client, Case(v, f, 10_000), keep=False)
            floor: dict[int, list[float]] = {n: [] for n in SIZES}
            for n in SIZES:
                for i in range(runs):
                    floor[n].append(floor_rows(engine, scope, n))
                    for f in FORMATS:
                        for v in ("optimised", "baseline"):
                            case = cases[(v, f, n)]
                            fetch(client, case, keep=n == SIZES[0] and i == 0)
                            log(f"{n:>7,} rows {f:4s} {v:9s} run {i + 1}: "
                                f"{case.wall[-1]:6.2f} s")  # fmt: skip
        finally:
            with engine.begin() as conn:
                revoke_session(conn, token, now=dt.datetime.now(dt.UTC))
    small = SIZES[0]
    same_csv = cases[("optimised", "csv", small)].body == cases[("baseline", "csv", small)].body
    log("reading the 10,000-row XLSX files back (openpyxl)")
    same_xlsx = xlsx_values(cases[("optimised", "xlsx", small)].body) == xlsx_values(
        cases[("baseline", "xlsx", small)].body
    )
    for c in cases.values():
        c.body = b""
    return {"cases": cases, "floor": floor, "n_events": n_events, "n_synthetic": n_synthetic,
            "same_csv": same_csv, "same_xlsx": same_xlsx, "runs": runs}  # fmt: skip


# --------------------------------------------------------------------------- report


def render(meta: dict[str, str], m: dict) -> str:
    cases: dict = m["cases"]
    rows = []
    for n in SIZES:
        fl = statistics.median(m["floor"][n])
        rows.append([f"{n:,}", "rows only (floor)", "query + cursor + masking", f"{fl:.2f}",
                     f"{n / fl:,.0f}", "", "", "", ""])  # fmt: skip
        for f in FORMATS:
            new, old = cases[("optimised", f, n)], cases[("baseline", f, n)]
            speedup = f"**{old.median(old.wall) / new.median(new.wall):.1f}× faster**"
            for label, c, note in (
                ("optimised", new, speedup),
                ("baseline (before)", old, "pre-optimisation code"),
            ):
                wall = c.median(c.wall)
                peak = f"{c.median(c.peak_mb):.0f}" if c.peak_mb else "n/a"
                rows.append(
                    [
                        f"{n:,}",
                        f.upper(),
                        label,
                        f"{wall:.2f}",
                        f"{n / wall:,.0f}",
                        f"{c.median(c.cpu):.2f}",
                        f"{c.size / MB:.1f}",
                        peak,
                        note,
                    ]
                )
    headers = ["rows", "format", "exporter", "s (median)", "rows/s", "app CPU s", "MB",
               "peak RSS MB", "note"]  # fmt: skip
    table = md_table(headers, rows, "lllrrrrrl")
    big = SIZES[-1]
    x_new = cases[("optimised", "xlsx", big)]
    lines = [
        MARK_START,
        "## Event-table exports (`python -m bench.exports`)",
        "",
        md_table(["run", "value"], [[k, v] for k, v in meta.items()], "ll"),
        "",
        f"The whole route (`GET /export/events.csv|xlsx`, prefecture commander, no filters, "
        f"newest first) through Flask's test client, each response read to its last byte; "
        f"median of {m['runs']} runs, optimised and baseline runs interleaved. The database "
        f"holds {m['n_events']:,} events ({m['n_synthetic']:,} marked synthetic). "
        "App CPU s: CPU time of the app process (PostgreSQL's share is not in it); "
        "peak RSS MB: growth of this process's peak resident memory during the request.",
        "",
        table,
        "",
        f"- 100,000-row XLSX: **{x_new.median(x_new.wall):.1f} s** (slowest of "
        f"{m['runs']} runs {max(x_new.wall):.1f} s) on this shared 2-core machine; gunicorn's "
        "gthread workers do not time out a long request (docs/event-table.md).",
        f"- Same files: the 10,000-row CSVs are byte-identical: "
        f"**{'yes' if m['same_csv'] else 'NO'}**; the 10,000-row XLSX files hold the same "
        f"values (openpyxl): **{'yes' if m['same_xlsx'] else 'NO'}**. The sheet XML is "
        "compared byte for byte with openpyxl's in tests/api/test_exports_cells.py.",
        "- Where the time went before: openpyxl's per-cell objects and writer (~17 µs a cell, "
        "1.8 M cells, even through lxml), then `export_values` per row; the query with its "
        "server-side cursor and the masking is the floor row above.",
        MARK_END,
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.exports",
                                description=__doc__.splitlines()[0])  # fmt: skip
    p.add_argument("--database-url", help="a database with ≥ 100,000 events and the demo's "
                   "accounts (default: DATABASE_URL)")  # fmt: skip
    p.add_argument("--runs", type=int, default=3, help="runs per case (median reported)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--no-write", action="store_true", help="print the section only")
    return p.parse_args(argv)


def run(args: argparse.Namespace, argv: Sequence[str]) -> str:
    import lxml.etree
    import openpyxl

    from bench.common import database_url, server_versions
    from geodata.db import make_engine

    url = database_url(args.database_url, "a database with ≥ 100,000 events")
    engine = make_engine(url)
    load0 = os.getloadavg()
    try:
        versions = server_versions(engine)
        m = measure(engine, url.render_as_string(hide_password=False), args.runs)
    finally:
        engine.dispose()
    load1 = os.getloadavg()
    mem = mem_total_gb()
    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "machine": f"{os.cpu_count()} cores ({cpu_model()})"
        + (f", {mem:.0f} GB RAM" if mem else ""),
        "OS / Python": f"{platform.platform()} / Python {platform.python_version()}",
        "PostgreSQL / PostGIS": f"{versions['postgres']} / {versions['postgis']}",
        "openpyxl / lxml": f"{openpyxl.__version__} / {lxml.etree.__version__} "
        f"(openpyxl writes through lxml: {openpyxl.LXML})",
        "database": f"`{url.render_as_string(hide_password=True)}`",
        "command": "`python -m bench.exports" + "".join(f" {a}" for a in argv) + "`",
        "load average (1 min) before / after": f"{load0[0]:.1f} / {load1[0]:.1f} "
        f"({os.cpu_count()} CPUs; other jobs share the machine)",
    }
    section = render(meta, m)
    if args.no_write:
        print(section)
    else:
        write_marked_section(args.out, section)
        log(f"wrote the bench.exports section of {args.out}")
    c = m["cases"]
    parts = []
    for f in FORMATS:
        new, old = c[("optimised", f, SIZES[-1])], c[("baseline", f, SIZES[-1])]
        parts.append(f"{f.upper()} 100k rows {new.median(new.wall):.2f} s "
                     f"(baseline {old.median(old.wall):.2f} s)")  # fmt: skip
    return "; ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    return cli_main(run, argv, parse_args)


if __name__ == "__main__":
    raise SystemExit(main())
