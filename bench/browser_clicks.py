"""Browser benchmark of the command map: click on a cell → its children drawn and the side panel
filled, in headless Chromium against a running app; plus the most polygons/vertices drawn at
once over the clicks and a sweep of views at every zoom.

Run (the app serving the full demo, e.g. ``gridcmd serve``)::

    python -m bench.browser_clicks --url http://127.0.0.1:8050 --clicks 30

"Done" for one click, both measured in the page from the click event (``performance.now()``,
captured on the document before Leaflet sees it):

* *children drawn* — the first draw of the grid layer (``window.gridcmd.state.log``, written
  by dashboard/assets/gridcmd.js after the features are on the canvas) whose payload is the
  selection's (``sel=<code>``) and contains the child level (a micro-grid: its own level);
* *panel filled* — a MutationObserver sees the selected code in ``#gc-panel-body``.

The walk is seeded: from the prefecture, click a random child of the selection (levels 2→6),
and from a micro-grid go back up through a random breadcrumb (untimed). The section between
the markers in bench/RESULTS.md is replaced (or appended).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import random
import statistics
from pathlib import Path
from typing import Any

from bench.auth import DEMO_PASSWORD, DEMO_USER, login_cookie, playwright_cookie
from bench.common import write_marked_section
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, POINT_IN_CELL_JS

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
MARK_START = "<!-- bench.browser_clicks:start -->"
MARK_END = "<!-- bench.browser_clicks:end -->"
LIVE_START = "<!-- bench.browser_clicks_live:start -->"
LIVE_END = "<!-- bench.browser_clicks_live:end -->"
TARGET_P95_MS = 700
TARGET_POLYGONS = 3000
TARGET_VERTICES = 150_000
DALI_BBOX = (98.87, 24.68, 101.05, 26.72)

#: Page-side probe: click time (capture phase) and panel-filled time for the armed code.
INIT_JS = """
window.__bench = {code: null, t0: null, panelAt: null, obs: null};
document.addEventListener('click', () => {
    const b = window.__bench;
    if (b.code && b.t0 === null) b.t0 = performance.now();
}, true);
window.__benchArm = (code) => {
    const b = window.__bench;
    if (b.obs) b.obs.disconnect();
    Object.assign(b, {code: code, t0: null, panelAt: null});
    const body = document.getElementById('gc-panel-body');
    const check = () => {
        if (b.panelAt === null && body && body.innerText.includes(code)) {
            b.panelAt = performance.now();
            if (b.obs) b.obs.disconnect();
        }
    };
    b.obs = new MutationObserver(check);
    if (body) b.obs.observe(body, {childList: true, subtree: true, characterData: true});
};
"""

#: JS predicate: the armed click is done; returns [t0, drawAt, panelAt, features, vertices].
#: ``child``: the selected level + 1 (a drawn level at least that deep: the lead's LOD draws
#: max(natural level, selected + 1), so a small village fitted at z16 shows micro-grids);
#: null for a micro-grid (its own draw).
DONE_JS = """([code, child]) => {
    const b = window.__bench, s = window.gridcmd && window.gridcmd.state;
    if (!b || b.t0 === null || !s) return false;
    // The observer watches the panel body it found when armed; if Dash replaced that element,
    // the (rAF-polled) check here still sees the code arrive.
    const body = document.getElementById('gc-panel-body');
    if (b.panelAt === null && body && body.innerText.includes(code)) b.panelAt = performance.now();
    const draw = s.log.find(e => e[0] >= b.t0 - 1 && e[2] && e[2].endsWith('sel=' + code)
        && (child === null || e[3].split(',').some(l => Number(l) >= child)));
    if (!draw || b.panelAt === null) return false;
    return [b.t0, draw[0], b.panelAt, draw[1], draw[4]];
}"""

DIAG_JS = """() => {
    const s = window.gridcmd.state, b = window.__bench;
    return {url: location.search, t0: b.t0, panelAt: b.panelAt,
            log: s.log.slice(-4).map(e => [e[0], e[1], e[2], e[3]])};
}"""

CANDIDATES_JS = """(level) => (window.gridcmd.state._layers || [])
    .map(l => l.feature.properties)
    .filter(p => p.role !== 'selected' && p.role !== 'context' && p.level === level)
    .map(p => p.code)"""


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0–100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _settle(page) -> None:
    page.wait_for_function("() => window.gridcmd && !window.gridcmd.state.moving", timeout=20_000)


def _click_child(page, rng: random.Random, level: int) -> tuple[str, tuple[float, float]] | None:
    """A random drawn cell of ``level`` with a clickable point, or None."""
    codes = page.evaluate(CANDIDATES_JS, level)
    rng.shuffle(codes)
    for code in codes[:40]:
        pt = page.evaluate(POINT_IN_CELL_JS, code)
        if pt:
            return code, (pt[0], pt[1])
    return None


def _go_up(page, rng: random.Random, depth: int) -> int:
    """Click a random ancestor crumb (untimed); returns the new selection level."""
    crumb = rng.randrange(0, max(1, depth - 1))  # 0 = prefecture … depth-2
    page.locator("#gc-breadcrumb .gc-crumb").nth(crumb).click()
    page.wait_for_function(
        f"() => document.querySelectorAll('#gc-breadcrumb .gc-crumb').length === {crumb + 1}"
    )
    page.wait_for_timeout(300)
    _settle(page)
    return crumb + 1


def run_clicks(
    page, rng: random.Random, n: int, failures: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``n`` timed clicks of the seeded walk (clicks not done in 20 s go to ``failures``)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    out: list[dict[str, Any]] = []
    level = 1  # the current selection's level (1: the prefecture)
    while len(out) < n:
        _settle(page)
        target = _click_child(page, rng, level + 1) if level < 6 else None
        if target is None:
            level = _go_up(page, rng, level)
            continue
        code, (x, y) = target
        child = level + 2 if level + 1 < 6 else None
        page.evaluate("(c) => window.__benchArm(c)", code)
        page.mouse.click(x, y)
        try:
            got = page.wait_for_function(DONE_JS, arg=[code, child], timeout=20_000).json_value()
        except PlaywrightTimeout:
            diag = page.evaluate(DIAG_JS)
            print(f"  click on {code} (L{level + 1}) not done after 20 s: {diag}")
            failures.append({"level": level + 1, "code": code, "diag": diag})
            page.goto(page.url.split("?")[0])
            page.wait_for_function("() => window.gridcmd && window.gridcmd.state.draws > 0")
            level = 1
            continue
        t0, drawn, panel, features, vertices = got
        out.append({
            "level": level + 1,
            "code": code,
            "drawn_ms": drawn - t0,
            "panel_ms": panel - t0,
            "done_ms": max(drawn, panel) - t0,
            "features": features,
            "vertices": vertices,
        })  # fmt: skip
        print(f"  click {len(out):3d}: L{level + 1} {code:<18} drawn {drawn - t0:6.0f} ms  "
              f"panel {panel - t0:6.0f} ms  ({features} polygons)")  # fmt: skip
        level += 1
    return out


def run_sweep(page, rng: random.Random, per_zoom: int) -> list[dict[str, Any]]:
    """Random views (no selection) at zooms 8–17: what the grid draws at once."""
    out = []
    page.goto(page.url.split("?")[0])
    page.wait_for_function("() => window.gridcmd && window.gridcmd.state.draws > 0")
    for zoom in range(8, 18):
        for _ in range(per_zoom):
            lon = rng.uniform(DALI_BBOX[0] + 0.3, DALI_BBOX[2] - 0.3)
            lat = rng.uniform(DALI_BBOX[1] + 0.3, DALI_BBOX[3] - 0.3)
            t = page.evaluate(
                f"() => {{ const t = performance.now();"
                f" window.gridcmd.state._map.setView([{lat}, {lon}], {zoom}, {{animate: false}});"
                f" return t; }}"
            )
            try:
                got = page.wait_for_function(
                    f"""() => window.gridcmd.state.log.find(
                        e => e[0] >= {t} && e[2].includes('z={zoom}&')) || false""",
                    timeout=10_000,
                ).json_value()
            except Exception:  # noqa: BLE001 - same URL as before (cached view): nothing new
                continue
            out.append({"zoom": zoom, "features": got[1], "vertices": got[4]})
    return out


LIVE_STATE_JS = """() => { const s = window.gridcmdLive.state;
    return {events: s.events, workers: s.workers, polls: s.polls, updates: s.updates,
            errors: s.errors}; }"""


def _start_live(page):
    """Overlays on (and the fleet moving when DATABASE_URL is set): the worst case for clicks."""
    import os

    page.hover(".leaflet-control-layers")
    for name in ("事件", "网格员"):
        page.locator(".leaflet-control-layers-overlays label", has_text=name).locator(
            "input"
        ).check()
    page.mouse.move(5, 400)
    page.wait_for_function(
        "() => window.gridcmdLive.state.shownWorkers.length > 0", timeout=60_000
    )
    if not os.environ.get("DATABASE_URL"):
        return None
    from bench.live import Mover
    from geodata.db import make_engine

    mover = Mover(make_engine(os.environ["DATABASE_URL"]), 10, 3600)
    mover.start()
    return mover


def environment(browser) -> dict[str, str]:
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {platform.system()} {platform.release()}",
        "browser": f"Chromium {browser.version} (headless, {CHROMIUM})",
    }


def report(
    args, env: dict[str, str], clicks: list[dict], sweep: list[dict], failures: list[dict]
) -> str:
    """The Markdown section for bench/RESULTS.md."""
    done = [c["done_ms"] for c in clicks]
    drawn = [c["drawn_ms"] for c in clicks]
    panel = [c["panel_ms"] for c in clicks]
    views = clicks + sweep
    max_poly = max(v["features"] for v in views)
    max_vert = max(v["vertices"] for v in views)
    p95 = pct(done, 95)
    start, end = (LIVE_START, LIVE_END) if args.live else (MARK_START, MARK_END)
    title = "## Browser: click on a cell → children drawn and side panel filled"
    if args.live:
        title += ", live layers on"
    lines = [
        start,
        title,
        "",
        f"`python -m bench.browser_clicks --url {args.url} --clicks {args.clicks} "
        f"--size {args.size} --seed {args.seed}{' --live' if args.live else ''}` — "
        f"{env['date']}; {env['browser']}; "
        f"{env['machine']}. Times from the click event to the first draw of the selection's "
        "children on the canvas and to the selected code appearing in the side panel "
        "(both measured in the page); the fly animation continues after that.",
        "",
        "| measure (ms) | n | p50 | p95 | max |",
        "| :--- | ---: | ---: | ---: | ---: |",
    ]
    for name, vals in (("children drawn", drawn), ("panel filled", panel),
                       ("**both (done)**", done)):  # fmt: skip
        lines.append(f"| {name} | {len(vals)} | {pct(vals, 50):.0f} | {pct(vals, 95):.0f} | "
                     f"{max(vals):.0f} |")  # fmt: skip
    for level in sorted({c["level"] for c in clicks}):
        vals = [c["done_ms"] for c in clicks if c["level"] == level]
        lines.append(f"| done, clicks on L{level} cells | {len(vals)} | {pct(vals, 50):.0f} | "
                     f"{pct(vals, 95):.0f} | {max(vals):.0f} |")  # fmt: skip
    verdict = "**PASS**" if p95 <= TARGET_P95_MS and not failures else "**FAIL**"
    lines += [
        "",
        f"Target p95 ≤ {TARGET_P95_MS} ms: {p95:.0f} ms — {verdict}."
        + (
            f" {len(failures)} click(s) not done within 20 s: "
            + ", ".join(f"L{f['level']} {f['code']}" for f in failures)
            if failures
            else ""
        ),
        "",
        "Most drawn at once (the grid layer's features after a draw), over the clicks and "
        f"{len(sweep)} random views without selection at zooms 8–17 ({args.size} screen):",
        "",
        "| measure | max | target | |",
        "| :--- | ---: | ---: | :--- |",
        f"| polygons | {max_poly:,} | ≤ {TARGET_POLYGONS:,} | "
        f"{'PASS' if max_poly <= TARGET_POLYGONS else 'FAIL'} |",
        f"| vertices | {max_vert:,} | ≤ {TARGET_VERTICES:,} | "
        f"{'PASS' if max_vert <= TARGET_VERTICES else 'FAIL'} |",
    ]
    if sweep:
        lines += [
            "",
            "| zoom | views | max polygons | max vertices |",
            "| ---: | ---: | ---: | ---: |",
        ]
        for zoom in sorted({s["zoom"] for s in sweep}):
            at = [s for s in sweep if s["zoom"] == zoom]
            lines.append(f"| {zoom} | {len(at)} | {max(s['features'] for s in at):,} | "
                         f"{max(s['vertices'] for s in at):,} |")  # fmt: skip
    if args.live:
        lines += [
            "",
            f"Live layers on during the clicks (events and workers overlays, clustered): "
            f"{env['live']}; fleet moved by SQL: {env.get('moved', 'no')} workers per second.",
        ]
    lines.append(end)
    return "\n".join(lines)




def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8050")
    ap.add_argument("--clicks", type=int, default=30)
    ap.add_argument("--size", default="1920x1080", help="browser viewport, WxH")
    ap.add_argument("--seed", type=int, default=532900)
    ap.add_argument("--sweep", type=int, default=8, help="random views per zoom (0: none)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--user", default=DEMO_USER, help="sign in as (default: demo commander)")
    ap.add_argument("--password", default=DEMO_PASSWORD, help="its password (demo default)")
    ap.add_argument(
        "--live", action="store_true",
        help="switch the events and workers overlays on first; with DATABASE_URL set, also "
        "move the fleet (1/10 of the workers per second) while clicking",
    )  # fmt: skip
    args = ap.parse_args(argv)
    if args.clicks < 1:
        ap.error("--clicks must be positive")
    width, height = (int(v) for v in args.size.lower().split("x"))
    from playwright.sync_api import sync_playwright

    rng = random.Random(args.seed)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        # bypass_csp: the probes are evaluated as strings (the app's CSP rightly forbids eval)
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale="zh-CN", bypass_csp=True
        )
        token = login_cookie(args.url, args.user, args.password)
        context.add_cookies([playwright_cookie(args.url, token)])
        page = context.new_page()
        page.add_init_script(INIT_JS)
        page.goto(args.url.rstrip("/") + "/")
        page.wait_for_function(
            "() => window.gridcmd && window.gridcmd.state.draws > 0", timeout=60_000
        )
        # steady state: every lazy bundle (geobuf decoder, Plotly for the panel) loaded
        page.wait_for_load_state("networkidle")
        mover = _start_live(page) if args.live else None
        print(f"{args.clicks} clicks at {args.size} on {args.url}")
        failures: list[dict[str, Any]] = []
        clicks = run_clicks(page, rng, args.clicks, failures)
        sweep = run_sweep(page, rng, args.sweep) if args.sweep else []
        env = environment(browser)
        if args.live:
            env["live"] = page.evaluate(LIVE_STATE_JS)
        if mover is not None:
            mover.stop.set()
            mover.join()
            env["moved"] = f"{sum(mover.moved) / max(1, len(mover.moved)):,.0f}"
        browser.close()
    section = report(args, env, clicks, sweep, failures)
    print()
    print(section)
    if not args.no_write:
        write_marked_section(args.out, section)
        print(f"\nwritten to {args.out}")
    summary = {
        "p50_ms": statistics.median(c["done_ms"] for c in clicks),
        "p95_ms": pct([c["done_ms"] for c in clicks], 95),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
