"""Event-to-screen latency: a report posted by a phone to one app instance, until it is drawn
on a dashboard open on another instance, in headless Chromium.

Run ``python -m bench.event_screen --database-url URL [--events 60] [--out bench/RESULTS.md]``
with ``URL`` a throw-away copy of the full demo (``gridcmd seed demo``: 25,884 workers): the
reports stay in it (append-only, described ``[模拟数据] bench.event_screen``).

* Two app instances, A and B: separate ``gunicorn -w 2 --threads 4 'app:server'`` process
  groups on two ports, one database — four processes that share nothing but PostgreSQL.
* The dashboard: Debian's ``/usr/bin/chromium`` (Playwright), 1920×1080, signed in as the demo
  prefecture commander on **B**, with the live overlays on (the default), polling the change
  feed every second as a real page does.
* The phones: ``POST /api/v1/events`` to **A** with worker tokens (created for the run and
  deleted afterwards), one report every ~1 s with a random phase, so the report times fall
  anywhere in the browser's poll period. ``--fleet`` (default on) moves the whole positioned
  fleet at one fix per 10 s meanwhile (one UPDATE of ~2,300 workers per second, as the
  positions API would), so the feed carries the full live load, not only the events.
* Latency = the moment the page has drawn the event (the live layer lists its id among the
  events it shows — ``window.gridcmdLive.state.shownEvents`` — and the next animation frame
  has run) minus the moment the phone started sending the report; both read the same wall
  clock (same machine). Target p95 ≤ 2 s.
* Baseline, same run: a dashboard without live updates, where the commander presses F5 — the
  report posted, then the page reloaded until the event is drawn (``--reloads`` times).

Only the section between the ``bench.event_screen`` markers of ``bench/RESULTS.md`` is
replaced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import time
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.api import drop_tokens, event_items, gunicorn, make_tokens, wait_ready
from bench.auth import login_cookie, playwright_cookie
from bench.common import BenchError, cli_main, cpu_model, log, md_table, pct, write_marked_section
from bench.live import Mover
from geodata.db import make_engine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
MARK_START = "<!-- bench.event_screen:start -->"
MARK_END = "<!-- bench.event_screen:end -->"
LABEL = "bench.event_screen"
TARGET_S = 2.0
CHROMIUM = "/usr/bin/chromium"

#: Installed in the page: records, for every event id in ``window.__gcWatch.want``, the wall
#: clock (ms) of the first animation frame after the live layer listed it as shown.
WATCH_JS = """() => {
    const w = window.__gcWatch = { want: new Set(), seen: {}, lastUpdate: -1 };
    function frame() {
        const s = window.gridcmdLive && window.gridcmdLive.state;
        if (s && w.want.size && s.updatedAt !== w.lastUpdate) {
            w.lastUpdate = s.updatedAt;
            const shown = new Set(s.shownEvents || []);
            const hits = [...w.want].filter(id => shown.has(id));
            if (hits.length) requestAnimationFrame(() => {
                const t = Date.now();
                hits.forEach(id => { if (!(id in w.seen)) w.seen[id] = t; w.want.delete(id); });
            });
        }
        requestAnimationFrame(frame);
    }
    requestAnimationFrame(frame);
}"""


def post_event(base: str, token: str, lon: float, lat: float, n: int) -> tuple[int, str]:
    """One report (one keep-alive-free request, as a phone on a mobile network); returns
    (HTTP status, uuid)."""
    ev_uuid = str(uuid.uuid4())
    body = {
        "uuid": ev_uuid, "category": "dispute", "difficulty": "simple",
        "title": f"邻里纠纷 #{n}", "description": f"[模拟数据] {LABEL}", "lon": lon, "lat": lat,
    }  # fmt: skip
    req = urllib.request.Request(
        base + "/api/v1/events", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, ev_uuid


def event_id(engine, ev_uuid: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT id FROM event WHERE uuid = :u"), {"u": ev_uuid}
        ).scalar_one()


def open_dashboard(pw, base: str, session: str):
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
    ctx.add_cookies([playwright_cookie(base, session)])
    page = ctx.new_page()
    return browser, page


def wait_live(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(
        "() => window.gridcmdLive && window.gridcmdLive.state.shownEvents.length > 0 "
        "&& window.gridcmdLive.state.polls > 0",
        timeout=timeout_ms,
    )


def run_live(engine, a: str, page, items, n_events: int, rng: random.Random) -> dict[str, Any]:
    """Reports to A, one every ~1 s; the page (on B) records when each is drawn."""
    page.evaluate(WATCH_JS)
    sent: dict[int, float] = {}
    codes: list[int] = []
    for n in range(n_events):
        time.sleep(rng.uniform(0.5, 1.5))  # a random phase against the 1 s poll
        token, lon, lat = rng.choice(items)
        t0 = time.time()
        status, ev_uuid = post_event(a, token, lon, lat, n)
        codes.append(status)
        eid = event_id(engine, ev_uuid)
        sent[eid] = t0 * 1000
        page.evaluate("(id) => window.__gcWatch.want.add(id)", eid)
    deadline = time.monotonic() + 15
    seen: dict[str, float] = {}
    while time.monotonic() < deadline:
        seen = page.evaluate("() => window.__gcWatch.seen")
        if len(seen) == len(sent):
            break
        time.sleep(0.2)
    lat_s = [(seen[str(i)] - t) / 1000 for i, t in sent.items() if str(i) in seen]
    state = page.evaluate(
        "() => { const s = window.gridcmdLive.state; return {polls: s.polls, "
        "snapshots: s.snapshots, updates: s.updates, errors: s.errors, resets: s.resets}; }"
    )
    return {"lat": lat_s, "sent": len(sent), "missing": len(sent) - len(lat_s),
            "codes": codes, "state": state}  # fmt: skip


def run_reloads(engine, a: str, page, base_b: str, items, n: int, rng) -> list[float]:
    """Baseline: report, then F5 on the dashboard until the event is drawn."""
    out = []
    for k in range(n):
        token, lon, lat = rng.choice(items)
        t0 = time.time()
        _status, ev_uuid = post_event(a, token, lon, lat, 10_000 + k)
        eid = event_id(engine, ev_uuid)
        page.reload()
        page.wait_for_function(
            "(id) => window.gridcmdLive && window.gridcmdLive.state.shownEvents.includes(id)",
            arg=eid, timeout=60_000,
        )  # fmt: skip
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
        out.append(time.time() - t0)
    return out


def render(args, cmd: str, live: dict[str, Any], reloads: list[float], fleet: list[int],
           load: tuple[tuple[float, ...], tuple[float, ...]], chromium: str) -> str:  # fmt: skip
    lat = live["lat"]
    p95 = pct(lat, 95)
    ok = live["missing"] == 0 and p95 <= TARGET_S
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    fleet_txt = (f"the whole positioned fleet moving at one fix per 10 s meanwhile "
                 f"({sum(fleet) / max(1, len(fleet)):,.0f} workers per UPDATE, one per second)"
                 if fleet else "no fleet movement")  # fmt: skip
    lines = [
        MARK_START,
        "## Event-to-screen latency, two app instances (`python -m bench.event_screen`)",
        "",
        f"`python -m bench.event_screen {' '.join(args)}` — {now}; {chromium} (headless, "
        f"1920×1080); {cpu_model()}, {os.cpu_count()} cores; {platform.platform()}; load "
        f"average {', '.join(f'{x:.1f}' for x in load[0])} at start → "
        f"{', '.join(f'{x:.1f}' for x in load[1])} at the end (the machine is shared).",
        "",
        f"Instances A and B: `{cmd}` each, on two ports, one database. The phone reports go to "
        f"A (`POST /api/v1/events`, worker tokens, one every 0.5–1.5 s); the dashboard is open "
        f"on B, signed in, live overlays on (poll every 1 s); {fleet_txt}. Latency: from the "
        "phone starting its request to the first animation frame after B's page lists the "
        "event among those its live layer shows.",
        "",
        md_table(
            ["path", "n", "p50 (s)", "p95 (s)", "max (s)"],
            [
                ["**live: report on A → drawn on B** (LISTEN/NOTIFY + cursor poll, deltas)",
                 f"{len(lat)}", f"{pct(lat, 50):.2f}", f"**{p95:.2f}**", f"{max(lat):.2f}"],
                ["baseline: report, then F5 on the dashboard until drawn",
                 f"{len(reloads)}", f"{pct(reloads, 50):.2f}", f"{pct(reloads, 95):.2f}",
                 f"{max(reloads):.2f}"],
            ],  # fmt: skip
            align="lrrrr",
        ),
        "",
        f"Target p95 ≤ {TARGET_S:.0f} s: {p95:.2f} s — **{'PASS' if ok else 'MISS'}** "
        f"({live['sent']} reports, {live['missing']} not drawn within 15 s; HTTP statuses "
        f"{sorted(set(live['codes']))}). The page during the live run: {live['state']['polls']} "
        f"polls, {live['state']['snapshots']} snapshot(s), {live['state']['updates']} layer "
        f"updates, {live['state']['errors']} errors, {live['state']['resets']} resets.",
        MARK_END,
    ]
    return "\n".join(lines)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.event_screen", description=__doc__.split(
        "\n")[0])  # fmt: skip
    p.add_argument("--database-url", required=True,
                   help="a throw-away copy of the full demo (the reports stay in it)")  # fmt: skip
    p.add_argument("--events", type=int, default=60)
    p.add_argument("--reloads", type=int, default=8)
    p.add_argument("--no-fleet", dest="fleet", action="store_false",
                   help="do not move the fleet during the run")  # fmt: skip
    p.add_argument("--seed", type=int, default=532900)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--no-write", action="store_true", help="print the section only")
    return p.parse_args(argv)


def run(args: argparse.Namespace, raw_args: list[str]) -> str:
    if not Path(CHROMIUM).exists():
        raise BenchError(f"{CHROMIUM} not found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    url = args.database_url
    engine = make_engine(url)
    rng = random.Random(args.seed)
    load0 = os.getloadavg()
    drop_tokens(engine, LABEL)
    tokens = make_tokens(engine, LABEL)
    mover = None
    try:
        items = event_items(engine, tokens)
        with gunicorn(url, workers=2, threads=4) as (a, cmd), \
                gunicorn(url, workers=2, threads=4) as (b, _cmd):  # fmt: skip
            wait_ready(a, tokens["gateway"]["token"])
            wait_ready(b, tokens["gateway"]["token"])
            session = login_cookie(b)
            with sync_playwright() as pw:
                browser, page = open_dashboard(pw, b, session)
                chromium = f"Chromium {browser.version}"
                page.goto(b + "/")
                wait_live(page)
                if args.fleet:
                    mover = Mover(engine, n_slices=10, seconds=3600)
                    mover.start()
                    time.sleep(3)  # the feed carries fleet deltas before the first report
                log(f"live: {args.events} reports to A, dashboard on B")
                live = run_live(engine, a, page, items, args.events, rng)
                log(f"  p50 {pct(live['lat'], 50):.2f} s, p95 {pct(live['lat'], 95):.2f} s, "
                    f"missing {live['missing']}")  # fmt: skip
                if mover is not None:
                    mover.stop.set()
                    mover.join(5)
                log(f"baseline: {args.reloads} reports, F5 until drawn")
                reloads = run_reloads(engine, a, page, b, items, args.reloads, rng)
                log(f"  p50 {pct(reloads, 50):.2f} s")
                browser.close()
    finally:
        if mover is not None:
            mover.stop.set()
        drop_tokens(engine, LABEL)
        engine.dispose()
    section = render(raw_args, cmd, live, reloads, mover.moved if mover else [],
                     (load0, os.getloadavg()), chromium)  # fmt: skip
    if not args.no_write:
        write_marked_section(args.out, section)
        log(f"wrote {args.out}")
    return section


def main(argv: Sequence[str] | None = None) -> int:
    return cli_main(run, argv, parse)


if __name__ == "__main__":
    raise SystemExit(main())
