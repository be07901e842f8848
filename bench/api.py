"""Mobile-API ingest benchmarks: events one by one, GPS fixes in gateway batches, beside the raw
PostGIS floor and a row-at-a-time baseline measured in the same run.

Run ``python -m bench.api [--database-url URL] [--out bench/RESULTS.md]``.

* The database: ``--database-url`` of a migrated database holding the full demo (e.g. made with
  ``gridcmd db migrate && gridcmd seed demo``), else a throw-away ``gridcmd_bench_<pid>`` on the
  server the app would use, seeded with the full demo and dropped afterwards (~50 s).
* The server under test: ``gunicorn -w 2 --threads 4 'app:server'`` (gthread workers, which
  keep connections alive as a phone's HTTP client or a reverse proxy does) on a free local
  port, in its own process group; the events are measured again on sync workers (``-w 2``,
  a new connection per request) in the same run.
* The load: separate processes (``--procs``), each with threads and one keep-alive client per
  thread (stdlib ``http.client`` for the events, the lightest on the shared 2-core machine;
  httpx for the positions batches); request bodies are built before the clock starts.
* Tokens (one gateway for the prefecture, worker tokens) are created for the run and deleted
  afterwards. The fixes and events written stay (events are append-only; their description
  is ``[模拟数据] bench.api``) and move the workers' ``last_fix_at`` up to a minute ahead: give
  ``--database-url`` only for a throw-away copy of the demo.

Only the section between the ``bench.api`` markers of ``bench/RESULTS.md`` is replaced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    BenchError,
    cli_main,
    cpu_model,
    git_commit,
    log,
    md_table,
    mem_total_gb,
    pct,
    write_marked_section,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
MARK_START = "<!-- bench.api:start -->"
MARK_END = "<!-- bench.api:end -->"
LABEL = "bench.api"
TARGET_EVENTS_S = 300
TARGET_FIXES_S = 20_000


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(db_url: str, workers: int = 2, threads: int = 1):
    """``gunicorn -w N [--threads T] 'app:server'`` on a free port; yields the base URL."""
    port = free_port()
    var = tempfile.mkdtemp(prefix="gridcmd_bench_var_")
    env = {**os.environ, "DATABASE_URL": db_url, "GRIDCMD_VAR_DIR": var}
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
           "--log-level", "warning", "--timeout", "120"]  # fmt: skip
    if threads > 1:
        cmd += ["--threads", str(threads)]
    proc = subprocess.Popen([*cmd, "app:server"], cwd=ROOT, env=env, start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}", " ".join([*cmd[3:], "'app:server'"])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wait_ready(base: str, token: str, timeout: float = 90.0) -> None:
    import httpx

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            r = httpx.get(f"{base}/api/v1/openapi.json",
                          headers={"Authorization": f"Bearer {token}"}, timeout=5)  # fmt: skip
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise BenchError(f"the server at {base} did not become ready in {timeout:.0f} s")


# --------------------------------------------------------------------------- load clients
# (module-level functions: they run in spawned processes)


def _client_events(base: str, items: list[tuple[str, float, float]], seconds: float,
                   threads: int, seed: int) -> dict[str, Any]:  # fmt: skip
    """POST /events one at a time from ``threads`` threads for ``seconds``; latencies (ms).

    Each thread keeps one ``http.client`` connection (HTTP/1.1 keep-alive; reopened only when
    the server closes it, as gunicorn's sync workers do after every response). Not httpx: on
    the 2-core machine the load generator competes with the server for CPU, and httpx spends
    several times more CPU per request than the stdlib client (see bench/README.md)."""
    import http.client
    import random
    from urllib.parse import urlsplit

    host, port = urlsplit(base).hostname, urlsplit(base).port
    lat_ms: list[float] = []
    codes: dict[int, int] = {}
    lock = threading.Lock()
    stop_at = time.time() + seconds
    t_first, t_last = [], []

    def worker(k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        local, local_codes = [], {}
        conn = http.client.HTTPConnection(host, port, timeout=30)
        t_first.append(time.time())
        while time.time() < stop_at:
            token, lon, lat = rng.choice(items)
            category, title = rng.choices(REPORTS, weights=REPORT_WEIGHTS)[0]
            body = {"uuid": str(uuid.uuid4()), "category": category,
                    "severity": "medium", "title": title,
                    "description": "[模拟数据] bench.api", "lon": lon, "lat": lat}  # fmt: skip
            if category == "dispute":
                body["difficulty"] = "simple"
            payload = json.dumps(body).encode()
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/events", body=payload, headers=headers)
                r = conn.getresponse()
                r.read()
                code = r.status
            except (OSError, http.client.HTTPException):
                code = 0
                conn.close()  # reconnects on the next request
            local.append((time.perf_counter() - t0) * 1000)
            local_codes[code] = local_codes.get(code, 0) + 1
        t_last.append(time.time())
        conn.close()
        with lock:
            lat_ms.extend(local)
            for k2, v in local_codes.items():
                codes[k2] = codes.get(k2, 0) + v

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"lat_ms": lat_ms, "codes": codes, "start": min(t_first), "end": max(t_last)}


def _client_positions(base: str, token: str, bodies: list[bytes], threads: int) -> dict[str, Any]:
    """POST the prepared gateway batches (``bodies``), ``threads`` at a time."""
    import httpx

    lat_ms: list[float] = []
    results: list[dict[str, Any]] = []
    codes: dict[int, int] = {}
    lock = threading.Lock()
    queue = list(range(len(bodies)))
    t_first, t_last = [], []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def worker() -> None:
        with httpx.Client(base_url=base + "/api/v1", timeout=120) as c:
            t_first.append(time.time())
            while True:
                with lock:
                    if not queue:
                        break
                    i = queue.pop(0)
                t0 = time.perf_counter()
                try:
                    r = c.post("/positions", content=bodies[i], headers=headers)
                    code, body = r.status_code, (r.json() if r.status_code == 200 else None)
                except httpx.HTTPError:
                    code, body = 0, None
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    lat_ms.append(ms)
                    codes[code] = codes.get(code, 0) + 1
                    if body is not None:
                        results.append({"accepted": body["accepted"],
                                        "duplicates": body["duplicates"],
                                        "rejected": len(body["rejected"])})  # fmt: skip
            t_last.append(time.time())

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"lat_ms": lat_ms, "codes": codes, "results": results, "start": min(t_first),
            "end": max(t_last)}  # fmt: skip


# --------------------------------------------------------------------------- setup


def make_tokens(engine, label: str = LABEL) -> dict[str, Any]:
    from geodata.tokens import create_demo_tokens

    with engine.begin() as conn:
        return create_demo_tokens(conn, n_workers=200, label=label)


def drop_tokens(engine, label: str = LABEL) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM api_token WHERE label LIKE :l"), {"l": label + "%"})


#: What the benchmark's phones report: (category, title), weighted like the demo's events
#: (disputes a third, then social risk, security, environment, ...).
REPORTS = [("dispute", "邻里纠纷调解"), ("social_risk", "房屋安全隐患"),
           ("public_security", "治安巡查发现问题"), ("environment", "垃圾堆放未清运"),
           ("livelihood", "低保申请诉求"), ("rural_revitalisation", "村道损毁"),
           ("forest_fire", "野外违规用火")]  # fmt: skip
REPORT_WEIGHTS = [31, 12, 9, 6, 6, 6, 5]
#: Distinct report locations per worker, spread over the worker's cell.
POINTS_PER_WORKER = 25


def event_items(engine, tokens: dict[str, Any]) -> list[tuple[str, float, float]]:
    """(worker token, lon, lat): :data:`POINTS_PER_WORKER` random points inside each worker's
    cell (fixed seed), so the reports spread over the workers' grids as real ones do — the
    answer's duplicate lookup (same category within 300 m and 72 h) then meets a realistic
    density instead of thousands of reports stacked on one point per worker."""
    from sqlalchemy import text

    by_id = {w["id"]: w["token"] for w in tokens["workers"]}
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT w.id, ST_X(p.geom) AS x, ST_Y(p.geom) AS y FROM grid_worker w "
                "JOIN grid_cell c ON c.id = w.cell_id "
                "CROSS JOIN LATERAL ST_Dump(ST_GeneratePoints(c.geom, :n, 532900)) AS p "
                "WHERE w.id = ANY(:ids)"
            ),
            {"ids": list(by_id), "n": POINTS_PER_WORKER},
        ).all()
    return [(by_id[r.id], r.x, r.y) for r in rows]


def fleet(engine) -> list[tuple[int, str, float, float]]:
    """(id, employee_no, lon, lat) of every active worker in the gateway's scope."""
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT w.id, w.employee_no, "
                "ST_X(coalesce(w.position, ST_PointOnSurface(c.geom))), "
                "ST_Y(coalesce(w.position, ST_PointOnSurface(c.geom))) FROM grid_worker w "
                "JOIN grid_cell c ON c.id = w.cell_id WHERE w.active ORDER BY w.id"
            )
        ).all()
        return [tuple(r) for r in rows]


def position_bodies(workers, rounds: range, batch: int, base: dt.datetime) -> list[bytes]:
    """Gateway batches: round r sends one fix for each worker of group ``r % groups`` at
    ``base + r × 100 ms``, moved 0.1 m per round (plausible, never a duplicate)."""
    groups = max(1, len(workers) // batch)
    out = []
    for r in rounds:
        g = r % groups
        t = (base + dt.timedelta(milliseconds=100 * r)).isoformat()
        d = 1e-6 * r
        group = workers[g * batch : (g + 1) * batch]
        fixes = [{"worker_id": e, "fix_time": t, "lon": round(x + d, 7), "lat": round(y, 7),
                  "accuracy": 8.0} for _, e, x, y in group]  # fmt: skip
        out.append(json.dumps({"fixes": fixes}, separators=(",", ":")).encode())
    return out


def vacuum(engine) -> None:
    """VACUUM ANALYZE the tables the runs write (the test server runs with autovacuum off)."""
    from sqlalchemy import text

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for t in ("grid_worker", "worker_position", "event", "event_action", "api_token"):
            conn.execute(text(f"VACUUM ANALYZE {t}"))


def load_average() -> str:
    try:
        return ", ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def live_change_max(engine) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text("SELECT coalesce(max(id), 0) FROM live_change")).scalar_one()


def live_changes_since(engine, since: int) -> dict[str, int]:
    from sqlalchemy import text

    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT kind, count(*) FROM live_change WHERE id > :i "
                                      "GROUP BY kind"), {"i": since}).all())  # fmt: skip


# --------------------------------------------------------------------------- measures


def run_events(base, items, seconds, procs, threads) -> dict[str, Any]:
    ctx = get_context("spawn")
    with ProcessPoolExecutor(procs, mp_context=ctx) as ex:
        futs = [ex.submit(_client_events, base, items, seconds, threads, p) for p in range(procs)]
        parts = [f.result() for f in futs]
    lat = [v for p in parts for v in p["lat_ms"]]
    codes: dict[int, int] = {}
    for p in parts:
        for k, v in p["codes"].items():
            codes[k] = codes.get(k, 0) + v
    wall = max(p["end"] for p in parts) - min(p["start"] for p in parts)
    ok = sum(v for k, v in codes.items() if k in (200, 201))
    return {"n": len(lat), "ok": ok, "codes": codes, "wall_s": wall, "rate": ok / wall,
            "p50": pct(lat, 50), "p95": pct(lat, 95), "p99": pct(lat, 99),
            "concurrency": procs * threads}  # fmt: skip


def run_positions(base, token, workers, batch, rounds, procs, threads) -> dict[str, Any]:
    base_t = dt.datetime.now(dt.UTC)
    per = [range(p, rounds, procs) for p in range(procs)]
    bodies = [position_bodies(workers, r, batch, base_t) for r in per]
    sizes = [len(b) for bs in bodies for b in bs]
    ctx = get_context("spawn")
    with ProcessPoolExecutor(procs, mp_context=ctx) as ex:
        futs = [ex.submit(_client_positions, base, token, bodies[p], threads)
                for p in range(procs)]  # fmt: skip
        parts = [f.result() for f in futs]
    lat = [v for p in parts for v in p["lat_ms"]]
    res = [r for p in parts for r in p["results"]]
    codes: dict[int, int] = {}
    for p in parts:
        for k, v in p["codes"].items():
            codes[k] = codes.get(k, 0) + v
    wall = max(p["end"] for p in parts) - min(p["start"] for p in parts)
    accepted = sum(r["accepted"] for r in res)
    return {"batches": len(lat), "codes": codes, "wall_s": wall, "accepted": accepted,
            "duplicates": sum(r["duplicates"] for r in res),
            "rejected": sum(r["rejected"] for r in res), "rate": accepted / wall,
            "p50": pct(lat, 50), "p95": pct(lat, 95), "body_kb": float(np.mean(sizes)) / 1000,
            "concurrency": procs * threads, "batch": batch, "base_t": base_t}  # fmt: skip


def raw_floor(engine, workers, n_rows: int, batch: int) -> dict[str, float]:
    """(a) COPY into an unlogged copy of worker_position (same indexes); (b) the pipeline's
    INSERT … SELECT unnest … ON CONFLICT straight into worker_position, ``batch`` rows per
    statement and commit; both from Python (psycopg), rows/s. The rows are removed again."""
    from sqlalchemy import text

    base = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)  # never collides with real fixes
    k = len(workers)
    ws = [workers[i % k][0] for i in range(n_rows)]
    ts = [base + dt.timedelta(seconds=i // k) for i in range(n_rows)]
    xs = [workers[i % k][2] for i in range(n_rows)]
    ys = [workers[i % k][3] for i in range(n_rows)]
    out: dict[str, float] = {}
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("DROP TABLE IF EXISTS bench_wp")
        cur.execute("CREATE UNLOGGED TABLE bench_wp (LIKE worker_position INCLUDING DEFAULTS "
                    "INCLUDING CONSTRAINTS INCLUDING INDEXES)")  # fmt: skip
        raw.commit()
        buf = io.StringIO()
        for w, t, x, y in zip(ws, ts, xs, ys, strict=True):
            buf.write(f"{w}\t{t.isoformat()}\tSRID=4326;POINT({x} {y})\t8\tgps\n")
        data = buf.getvalue()
        t0 = time.perf_counter()
        with cur.copy("COPY bench_wp (worker_id, fix_time, geom, accuracy_m, source) "
                      "FROM STDIN") as cp:  # fmt: skip
            cp.write(data)
        raw.commit()
        out["copy_unlogged"] = n_rows / (time.perf_counter() - t0)
        cur.execute("DROP TABLE bench_wp")
        raw.commit()
        sql = """
            INSERT INTO worker_position (worker_id, fix_time, geom, accuracy_m, source)
            SELECT f.w, f.t, ST_SetSRID(ST_MakePoint(f.x, f.y), 4326), 8, 'gps'
            FROM unnest(%s::text::bigint[], %s::text::timestamptz[], %s::text::float8[],
                        %s::text::float8[]) AS f(w, t, x, y)
            ON CONFLICT (worker_id, fix_time) DO NOTHING"""
        # the arrays as text literals, built before the clock starts (as the pipeline does)
        cols = (ws, [t.isoformat() for t in ts], xs, ys)
        lit = [tuple("{" + ",".join(map(str, col[s:s + batch])) + "}" for col in cols)
               for s in range(0, n_rows, batch)]  # fmt: skip
        t0 = time.perf_counter()
        for params in lit:
            cur.execute(sql, params)
            raw.commit()
        out["insert_unnest"] = n_rows / (time.perf_counter() - t0)
    finally:
        raw.close()
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM worker_position WHERE fix_time >= :t"), {"t": base})
    return out


def row_at_a_time(engine, workers, n_rows: int, per_tx: int = 500) -> dict[str, float]:
    """The naive baseline: per fix one INSERT and one UPDATE of grid_worker (each UPDATE fires
    the live trigger: a change row and a NOTIFY per fix), committing every ``per_tx`` fixes.
    Rolled back in effect: the fixes are deleted and the workers restored afterwards."""
    from sqlalchemy import text

    base = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    sample = workers[:n_rows]
    ids = [w[0] for w in sample]
    with engine.connect() as conn:
        saved = conn.execute(text("SELECT id, position, last_fix_at FROM grid_worker "
                                  "WHERE id = ANY(:i)"), {"i": ids}).all()  # fmt: skip
    before = live_change_max(engine)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        t0 = time.perf_counter()
        for i, (w, _e, x, y) in enumerate(sample):
            cur.execute("INSERT INTO worker_position (worker_id, fix_time, geom, accuracy_m, "
                        "source) VALUES (%s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326), 8, "
                        "'gps') ON CONFLICT (worker_id, fix_time) DO NOTHING",
                        (w, base, x, y))  # fmt: skip
            cur.execute("UPDATE grid_worker SET position = ST_SetSRID(ST_MakePoint(%s, %s), "
                        "4326), last_fix_at = %s WHERE id = %s AND (last_fix_at IS NULL OR "
                        "last_fix_at < %s)", (x, y, base, w, base))  # fmt: skip
            if (i + 1) % per_tx == 0:
                raw.commit()
        raw.commit()
        rate = n_rows / (time.perf_counter() - t0)
    finally:
        raw.close()
    changes = live_changes_since(engine, before).get("worker", 0)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM worker_position WHERE fix_time >= :t"), {"t": base})
        for r in saved:
            conn.execute(text("UPDATE grid_worker SET position = :p, last_fix_at = :t "
                              "WHERE id = :i"), {"p": r.position, "t": r.last_fix_at,
                                                 "i": r.id})  # fmt: skip
    return {"rate": rate, "rows": n_rows, "live_changes": changes}


def pipeline_in_process(engine, workers, batch: int, rounds: int) -> dict[str, float]:
    """``ingest_fleet_positions`` called directly (no HTTP, no JSON, no pydantic): the
    pipeline's own cost per fix, for the profile of the HTTP number."""
    from geodata.positions import ingest_fleet_positions

    base = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)  # after the HTTP run's fixes
    groups = max(1, len(workers) // batch)
    t0 = time.perf_counter()
    n = 0
    for r in range(rounds):
        g = (r + 3) % groups
        t = base + dt.timedelta(milliseconds=10 * r)
        fixes = [(i, w, t, x + 1e-6 * r, y, 8.0)
                 for i, (w, _e, x, y) in enumerate(workers[g * batch:(g + 1) * batch])]  # fmt: skip
        with engine.begin() as conn:
            n += ingest_fleet_positions(conn, fixes).accepted
    return {"rate": n / (time.perf_counter() - t0), "rows": n}


# --------------------------------------------------------------------------- report


def render(meta: dict[str, str], ev, pos, floor, naive, inproc, live, ev_threads=None,
           other_label: str = "") -> str:  # fmt: skip
    ok_ev = "**PASS**" if ev["rate"] >= TARGET_EVENTS_S else "**MISS**"
    ok_pos = "**PASS**" if pos["rate"] >= TARGET_FIXES_S else "**MISS**"
    lines = [
        MARK_START,
        "## Mobile API ingest (`python -m bench.api`)",
        "",
        md_table(["run", "value"], [[k, v] for k, v in meta.items()], "ll"),
        "",
        "### Events, one request each (`POST /api/v1/events`, worker tokens)",
        "",
        md_table(
            ["measure", "value"],
            [
                ["concurrent clients", f"{ev['concurrency']}"],
                [
                    "events stored (201)",
                    f"{ev['ok']:,} of {ev['n']:,} requests in {ev['wall_s']:.1f} s",
                ],
                ["status codes", ", ".join(f"{k}: {v:,}" for k, v in sorted(ev["codes"].items()))],
                ["**sustained events/s**", f"**{ev['rate']:,.0f}**"],
                [
                    "latency p50 / p95 / p99",
                    f"{ev['p50']:.1f} / {ev['p95']:.1f} / {ev['p99']:.1f} ms",
                ],
                [f"target ≥ {TARGET_EVENTS_S} events/s", ok_ev],
                *(
                    [
                        [
                            other_label,
                            f"{ev_threads['rate']:,.0f} events/s, p50 / p95 "
                            f"{ev_threads['p50']:.1f} / {ev_threads['p95']:.1f} ms",
                        ]
                    ]
                    if ev_threads
                    else []
                ),
            ],
            "lr",
        ),  # fmt: skip
        "",
        "### GPS fixes in gateway batches (`POST /api/v1/positions`, one gateway token)",
        "",
        md_table(
            ["measure", "value"],
            [
                [
                    "fixes per request / body",
                    f"{pos['batch']:,} (one per worker, employee "
                    f"numbers) / {pos['body_kb']:.0f} KB",
                ],
                ["concurrent clients", f"{pos['concurrency']}"],
                [
                    "requests",
                    f"{pos['batches']:,} ("
                    + ", ".join(f"{k}: {v:,}" for k, v in sorted(pos["codes"].items()))
                    + ")",
                ],
                [
                    "fixes accepted / duplicates / rejected",
                    f"{pos['accepted']:,} / {pos['duplicates']:,} / {pos['rejected']:,}",
                ],
                ["**sustained fixes/s (HTTP, end to end)**", f"**{pos['rate']:,.0f}**"],
                ["request latency p50 / p95", f"{pos['p50']:.0f} / {pos['p95']:.0f} ms"],
                [f"target ≥ {TARGET_FIXES_S:,} fixes/s", ok_pos],
                [
                    "`live_change` rows written during the run",
                    f"{live.get('worker', 0):,} for {pos['batches']:,} batches (one UPDATE, one "
                    "NOTIFY per batch)",
                ],
            ],
            "lr",
        ),  # fmt: skip
        "",
        "Beside it, measured in the same run on the same database:",
        "",
        md_table(
            ["write path", "rows/s", "vs HTTP"],
            [
                [
                    "raw floor: `COPY` into an unlogged copy of `worker_position` (same indexes)",
                    f"{floor['copy_unlogged']:,.0f}",
                    f"{floor['copy_unlogged'] / pos['rate']:.1f}×",
                ],
                [
                    f"raw floor: `INSERT … SELECT unnest … ON CONFLICT` into `worker_position`, "
                    f"{pos['batch']:,} per statement",
                    f"{floor['insert_unnest']:,.0f}",
                    f"{floor['insert_unnest'] / pos['rate']:.1f}×",
                ],
                [
                    f"`ingest_fleet_positions` in process ({pos['batch']:,} per call: lock + "
                    "checks + INSERT + UPDATE, no HTTP/JSON)",
                    f"{inproc['rate']:,.0f}",
                    f"{inproc['rate'] / pos['rate']:.1f}×",
                ],
                ["**HTTP API, gateway batches (above)**", f"**{pos['rate']:,.0f}**", "1.0×"],
                [
                    f"row-at-a-time baseline: one INSERT + one UPDATE per fix "
                    f"({naive['rows']:,} fixes, commit per 500)",
                    f"{naive['rate']:,.0f}",
                    f"{naive['rate'] / pos['rate']:.2f}×",
                ],
            ],
            "lrr",
        ),  # fmt: skip
        "",
        f"The row-at-a-time baseline wrote {naive['live_changes']:,} `live_change` rows (and as "
        f"many NOTIFYs) for {naive['rows']:,} fixes; the batched pipeline writes one per batch.",
        "",
        "Server, PostgreSQL and load generator share the machine's cores, so CPU is the limit "
        "(see the load average above): a positions request waits behind the other client's "
        "batch (latency ≈ 2 × service time with 4 clients on 2 workers). Per fix the database "
        "does an `INSERT` (three B-tree indexes and the foreign-key check) and a non-HOT "
        "`UPDATE` of `grid_worker` (five indexes, one GiST), which the floors above do not.",
        MARK_END,
    ]
    return "\n".join(lines)



# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.splitlines()[0])
    p.add_argument("--database-url", help="a migrated database holding the full demo "
                   "(default: a throw-away one, seeded here)")  # fmt: skip
    p.add_argument("--event-seconds", type=float, default=20.0)
    p.add_argument("--event-procs", type=int, default=2)
    p.add_argument("--event-threads", type=int, default=4, help="threads per process")
    p.add_argument("--batch", type=int, default=5000, help="fixes per positions request")
    p.add_argument("--rounds", type=int, default=60, help="positions requests in total")
    p.add_argument("--pos-procs", type=int, default=2)
    p.add_argument("--pos-threads", type=int, default=2, help="threads per process")
    p.add_argument("--gunicorn-workers", type=int, default=4)
    p.add_argument("--gunicorn-threads", type=int, default=4,
                   help="threads per worker (gthread, keep-alive); 1: sync workers")  # fmt: skip
    p.add_argument("--naive-rows", type=int, default=3000)
    p.add_argument("--floor-rows", type=int, default=100_000)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--no-write", action="store_true", help="print the section only")
    return p.parse_args(argv)


def run(args: argparse.Namespace, argv: Sequence[str]) -> str:
    from geodata.db import make_engine, normalise_url

    if args.database_url:
        url = normalise_url(args.database_url)
        ctx = nullcontext(make_engine(url))
        where = f"`--database-url` ({url.render_as_string(hide_password=True)})"
    else:
        from bench.common import bench_seed, scratch_database, server_url
        from geodata.migrate import upgrade

        server, where = server_url()
        ctx = scratch_database(server)
    with ctx as engine:
        if not args.database_url:
            upgrade(engine)
            log("seeding the full demo")
            bench_seed(engine, 1.0)
            where += f" — scratch database `{engine.url.database}`"
        section = api_section(engine, where, args, "python -m bench.api" + "".join(
            f" {a}" for a in argv))  # fmt: skip
    if not args.no_write:
        write_marked_section(args.out, section)
        log(f"wrote the bench.api section of {args.out}")
    return section


def api_section(engine, where: str, args: argparse.Namespace, command: str) -> str:
    """Run every measure on ``engine`` (a migrated database holding the full demo) and return
    the Markdown section (also used by ``python -m bench.run --api``)."""
    db_url = engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
    from sqlalchemy import text

    with engine.connect() as conn:
        n_workers = conn.execute(text("SELECT count(*) FROM grid_worker")).scalar_one()
        n_pos = conn.execute(text("SELECT count(*) FROM worker_position")).scalar_one()
        versions = conn.execute(text("SELECT version(), postgis_lib_version()")).one()
        sync = conn.execute(text("SHOW synchronous_commit")).scalar_one()
        autovac = conn.execute(text("SHOW autovacuum")).scalar_one()
    if n_workers < 20_000:
        log(f"WARNING: only {n_workers:,} workers: not the full demo")
    started = dt.datetime.now(dt.UTC)
    vacuum(engine)
    load_start = load_average()
    drop_tokens(engine)
    tokens = make_tokens(engine)
    workers = fleet(engine)
    try:
        with gunicorn(db_url, args.gunicorn_workers, args.gunicorn_threads) as (base, cmd):
            wait_ready(base, tokens["gateway"]["token"])
            log(f"server up: {cmd}")
            items = event_items(engine, tokens)
            log(f"events: {args.event_procs}×{args.event_threads} clients, "
                f"{args.event_seconds:g} s")  # fmt: skip
            ev = run_events(base, items, args.event_seconds, args.event_procs,
                            args.event_threads)  # fmt: skip
            log(f"  {ev['rate']:,.0f} events/s, p50 {ev['p50']:.1f} ms, p95 {ev['p95']:.1f}")
            vacuum(engine)
            live0 = live_change_max(engine)
            log(f"positions: {args.rounds} batches of {args.batch:,}, "
                f"{args.pos_procs}×{args.pos_threads} clients")  # fmt: skip
            pos = run_positions(base, tokens["gateway"]["token"], workers, args.batch,
                                args.rounds, args.pos_procs, args.pos_threads)  # fmt: skip
            live = live_changes_since(engine, live0)
            log(f"  {pos['rate']:,.0f} fixes/s, p50 {pos['p50']:.0f} ms, "
                f"p95 {pos['p95']:.0f} ms; live_change {live}")  # fmt: skip
        load_end = load_average()
        # The events again on the other worker class, same number of workers: sync workers
        # (no keep-alive: a new connection per request) beside gthread, or the reverse.
        other = 1 if args.gunicorn_threads > 1 else 4
        other_label = (f"same, sync workers (`-w {args.gunicorn_workers}`, no keep-alive)"
                       if other == 1 else f"same, `--threads {other}` (gthread, same number "
                       "of workers)")  # fmt: skip
        with gunicorn(db_url, args.gunicorn_workers, other) as (base2, _cmd):
            wait_ready(base2, tokens["gateway"]["token"])
            ev_threads = run_events(base2, items, args.event_seconds, args.event_procs,
                                    args.event_threads)  # fmt: skip
            log(f"  {other_label}: {ev_threads['rate']:,.0f} events/s, p50 "
                f"{ev_threads['p50']:.1f} ms, p95 {ev_threads['p95']:.1f}")  # fmt: skip
        vacuum(engine)
        log("in-process pipeline")
        inproc = pipeline_in_process(engine, workers, args.batch, 10)
        log(f"  {inproc['rate']:,.0f} fixes/s")
        log("raw floor")
        floor = raw_floor(engine, workers, args.floor_rows, args.batch)
        log(f"  {floor}")
        log("row-at-a-time baseline")
        naive = row_at_a_time(engine, workers, args.naive_rows)
        log(f"  {naive}")
    finally:
        drop_tokens(engine)
    mem = mem_total_gb()
    meta = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "command": f"`{command}`",
        "database": f"{where}; {n_workers:,} workers, {n_pos:,} stored fixes at the start",
        "server under test": f"`gunicorn {cmd}` (DATABASE_URL set), same machine",
        "load generator": "separate processes (spawn), threads with one keep-alive connection "
        "each (events: stdlib `http.client`; positions: httpx)",
        "machine": f"{os.cpu_count()} cores ({cpu_model()})"
        + (f", {mem:.1f} GB RAM" if mem else ""),
        "OS / Python": f"{platform.platform()} / Python {platform.python_version()}",
        "PostgreSQL / PostGIS": f"{versions[0].split(' on ')[0]} / {versions[1]}; "
        f"synchronous_commit={sync}, autovacuum={autovac} (tables vacuumed before each part)",
        "load average (1, 5, 15 min) at start → after the HTTP runs": f"{load_start} → {load_end}"
        " (the 2-core machine is shared with other work)",
    }
    return render(meta, ev, pos, floor, naive, inproc, live, ev_threads, other_label)


def main(argv: Sequence[str] | None = None) -> int:
    return cli_main(run, argv, parse_args)


if __name__ == "__main__":
    raise SystemExit(main())
