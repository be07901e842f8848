"""``gridcmd simulate``: a field simulator driving the real HTTP API like the phones would.

N on-duty workers walk plausible paths (a random walk with momentum, pulled back towards their
own cell; ~1.4 m/s on foot, now and then a ride at up to ~20 m/s, always below the server's
70 m/s plausibility limit). Every second, all fixes that are due are sent through the gateway
token in batches of up to 5,000 (``POST /api/v1/positions``). Now and then a worker with their
own token reports an event (Chinese titles, description tagged ``[模拟数据]``), every K-th
event gets a small generated JPEG (``POST /events/<uuid>/photos``), and each worker with a token
checks in once (``POST /checkins``); workers with open tasks take the next step on the most
urgent one (``GET /me/tasks``, then ``POST /events/<uuid>/accept|start|resolve``). Routes the
server does not have (404/405/415) are skipped
after the first try. Server errors are counted, never fatal; Ctrl-C ends the run cleanly with the
summary.

``rate`` is **fixes per worker per minute** (phones typically report every 5–60 s; at most 60,
one per worker per one-second tick).

Tokens come from the file written by ``gridcmd seed demo`` (``var/demo_tokens.json``): the
gateway token and the worker tokens. The workers themselves (and their start positions) are read
from the database: on-duty workers in id order, workers with a token first.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy.engine import Engine

from geodata.fieldwork import on_duty_workers

#: Most fixes per ``POST /positions`` with a gateway token (the server's limit).
BATCH_MAX = 5_000
#: Metres per degree of latitude.
M_PER_DEG = 111_320.0
WALK_MS = 1.4
#: Rides stay well below the server's 70 m/s limit.
RIDE_MS = (6.0, 20.0)
#: A worker strays at most about this far (metres) from home before turning back.
HOME_RADIUS_M = 600.0
SYNTHETIC_TAG = "[模拟数据]"
UNSUPPORTED = (404, 405, 415, 501)

EVENT_TITLES: dict[str, list[str]] = {
    "dispute": ["邻里噪音纠纷", "宅基地边界争议", "土地流转纠纷"],
    "social_risk": ["自建房墙体开裂", "山体滑坡隐患", "危桥通行隐患"],
    "public_security": ["夜间可疑人员徘徊", "小区门禁损坏", "路口打架纠纷"],
    "party_building": ["党员活动室设施报修", "主题党日活动场地协调"],
    "rural_revitalisation": ["村道硬化进度滞后", "农产品滞销求助"],
    "civilised_city": ["占道经营", "乱贴小广告", "共享单车乱停放"],
    "ethnic_religious": ["节庆活动安全保障", "民族村寨设施报修"],
    "epidemic_prevention": ["集市人员聚集", "外来人员健康登记"],
    "environment": ["垃圾堆放未清运", "洱海沿岸污水直排", "油烟扰民"],
    "forest_fire": ["林区违规用火", "祭祀烧纸隐患", "防火通道堵塞"],
    "livelihood": ["路灯不亮", "自来水停水", "独居老人求助"],
}


@dataclass
class SimConfig:
    """What to simulate. ``rate``: fixes per worker per minute; ``events_per_min``: events of
    the whole fleet per minute; ``photos_every``: a photo on every K-th created event (0: none)."""

    workers: int = 100
    rate: float = 6.0
    duration: float = 60.0
    base_url: str = "http://127.0.0.1:8050"
    tokens: Path | None = None
    events_per_min: float = 6.0
    photos_every: int = 5
    seed: int | None = None
    checkins: bool = True
    #: Task steps of the whole fleet per minute: a worker with open tasks accepts (接单),
    #: starts or resolves one, as a phone would (the case workflow).
    tasks_per_min: float = 6.0
    max_in_flight: int = 4


@dataclass
class Stats:
    """Counters and latencies of a run (latencies in milliseconds, by request kind)."""

    fixes_sent: int = 0
    fixes_accepted: int = 0
    fixes_duplicates: int = 0
    fixes_rejected: Counter = field(default_factory=Counter)
    requests: Counter = field(default_factory=Counter)  # by kind
    created: Counter = field(default_factory=Counter)  # events/photos/checkins stored
    rejected: Counter = field(default_factory=Counter)  # 4xx by kind
    errors: Counter = field(default_factory=Counter)  # 5xx / transport errors by kind
    skipped: set[str] = field(default_factory=set)  # routes the server lacks
    latency_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    seconds: float = 0.0
    interrupted: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def p(self, kind: str, q: float) -> float:
        v = self.latency_ms.get(kind) or []
        return float(np.percentile(v, q)) if v else float("nan")


@dataclass
class Fleet:
    """The simulated workers as arrays (vectorised movement)."""

    ids: np.ndarray
    employee_no: list[str]
    tokens: list[str | None]
    lon: np.ndarray
    lat: np.ndarray
    home_lon: np.ndarray
    home_lat: np.ndarray
    heading: np.ndarray
    speed: np.ndarray
    ride_left: np.ndarray  # seconds of the current ride, 0 on foot
    next_fix: np.ndarray  # monotonic seconds of each worker's next fix


def load_tokens(path: Path) -> dict[str, Any]:
    """The tokens file (``{gateway: {token}, workers: [{id, employee_no, token}]}``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the tokens file {path}: {exc}") from None
    if not isinstance(data, dict) or not (data.get("gateway") or {}).get("token"):
        raise ValueError(f"{path} has no gateway token (write it with `gridcmd seed demo`)")
    return data


def preflight(base_url: str, tokens: dict[str, Any], timeout: float = 10.0) -> None:
    """Check, before any simulated traffic, that the server answers and accepts the tokens
    file's gateway token and a worker token (one ``GET /api/v1/openapi.json`` each; it needs
    a token). ``ValueError`` with what is wrong otherwise — a tokens file from another
    database, revoked tokens, or no server — instead of a run that silently stores nothing."""
    api = base_url.rstrip("/") + "/api/v1/openapi.json"
    checks = [("gateway token", tokens["gateway"]["token"])]
    workers = [w for w in tokens.get("workers", []) if w.get("token")]
    if workers:
        checks.append((f"worker token of {workers[0].get('employee_no', '?')}",
                       workers[0]["token"]))  # fmt: skip
    with httpx.Client(timeout=timeout) as client:
        for what, token in checks:
            try:
                resp = client.get(api, headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError as exc:
                raise ValueError(f"cannot reach {base_url}: {exc} (is the server running?)"
                                 ) from None  # fmt: skip
            if resp.status_code in (401, 403):
                raise ValueError(
                    f"{base_url} refuses the tokens file's {what} ({resp.status_code}): the "
                    "file belongs to another database or its tokens were revoked; "
                    "`gridcmd seed demo --replace` writes new demo tokens, or pass --tokens FILE"
                )
            if resp.status_code != 200:
                raise ValueError(f"{api} answered {resp.status_code}: is this a Grid Command "
                                 "server?")  # fmt: skip


def build_fleet(
    engine: Engine, n: int, tokens: dict[str, Any], rate: float, rng: np.random.Generator
) -> Fleet:
    """``n`` active on-duty workers, those with a token first, starting at their current
    position (else a point of their cell)."""
    by_id = {int(w["id"]): w["token"] for w in tokens.get("workers", [])}
    with engine.connect() as conn:
        rows = on_duty_workers(conn, limit=n, first=list(by_id))
    if not rows:
        raise ValueError("no on-duty workers in the database (seed the demo first)")
    k = len(rows)
    interval = 60.0 / rate
    return Fleet(
        ids=np.array([r.id for r in rows], dtype=np.int64),
        employee_no=[r.employee_no for r in rows],
        tokens=[by_id.get(r.id) for r in rows],
        lon=np.array([r.lon for r in rows]),
        lat=np.array([r.lat for r in rows]),
        home_lon=np.array([r.home_lon for r in rows]),
        home_lat=np.array([r.home_lat for r in rows]),
        heading=rng.uniform(0, 2 * math.pi, k),
        speed=np.clip(rng.normal(WALK_MS, 0.3, k), 0.5, 2.2),
        ride_left=np.zeros(k),
        next_fix=time.monotonic() + rng.uniform(0, interval, k),
    )


def move(fleet: Fleet, dt_s: float, rng: np.random.Generator) -> None:
    """Advance every worker by ``dt_s`` seconds: heading with momentum, a pull home beyond
    :data:`HOME_RADIUS_M`, occasional rides."""
    k = fleet.ids.size
    coslat = np.cos(np.radians(fleet.lat))
    dx = (fleet.home_lon - fleet.lon) * M_PER_DEG * coslat
    dy = (fleet.home_lat - fleet.lat) * M_PER_DEG
    far = np.hypot(dx, dy) > HOME_RADIUS_M
    home = np.arctan2(dx, dy)  # heading 0 = north, clockwise
    turn = np.angle(np.exp(1j * (home - fleet.heading)))
    fleet.heading += rng.normal(0, 0.25, k) * math.sqrt(dt_s) + np.where(far, 0.3 * turn, 0.0)
    start_ride = (fleet.ride_left <= 0) & (rng.random(k) < 0.002 * dt_s)
    fleet.ride_left = np.where(start_ride, rng.uniform(30, 120, k), fleet.ride_left - dt_s)
    riding = fleet.ride_left > 0
    walk = np.clip(fleet.speed + rng.normal(0, 0.1, k) * math.sqrt(dt_s), 0.5, 2.2)
    fleet.speed = np.where(riding, np.clip(np.where(start_ride, rng.uniform(*RIDE_MS, k),
                                                    fleet.speed), *RIDE_MS),
                           np.where(fleet.speed > 2.2, WALK_MS, walk))  # fmt: skip
    step = fleet.speed * dt_s
    fleet.lat = fleet.lat + step * np.cos(fleet.heading) / M_PER_DEG
    fleet.lon = fleet.lon + step * np.sin(fleet.heading) / (M_PER_DEG * coslat)


def tiny_jpeg(rng: np.random.Generator, size: int = 64) -> bytes:
    """A small generated JPEG (a noisy gradient), a few KB."""
    from PIL import Image

    y, x = np.mgrid[0:size, 0:size]
    base = np.stack([x * 4, y * 4, (x + y) * 2], axis=-1) % 256
    noise = rng.integers(0, 40, (size, size, 3))
    img = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


class Simulator:
    """One run: the tick loop in the caller's thread, HTTP requests in a small thread pool."""

    def __init__(self, cfg: SimConfig, engine: Engine, tokens: dict[str, Any]):
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)
        self.stats = Stats()
        self.fleet = build_fleet(engine, cfg.workers, tokens, cfg.rate, self.rng)
        self.gateway = tokens["gateway"]["token"]
        self.with_token = [i for i, t in enumerate(self.fleet.tokens) if t]
        self.checked_in: set[int] = set()
        self.events_created = 0
        self.client = httpx.Client(
            base_url=cfg.base_url.rstrip("/") + "/api/v1",
            timeout=30.0,
            limits=httpx.Limits(max_connections=cfg.max_in_flight + 4),
        )
        self.pool = ThreadPoolExecutor(max_workers=cfg.max_in_flight + 2)
        self.in_flight: list[Future] = []

    # ------------------------------------------------------------------ requests

    def _request(self, kind: str, method: str, url: str, token: str, **kw) -> httpx.Response | None:
        """One request; latency and outcome recorded; None on a transport error."""
        t0 = time.perf_counter()
        try:
            resp = self.client.request(method, url, headers={"Authorization": f"Bearer {token}"},
                                       **kw)  # fmt: skip
        except httpx.HTTPError:
            with self.stats.lock:
                self.stats.requests[kind] += 1
                self.stats.errors[kind] += 1
            return None
        ms = (time.perf_counter() - t0) * 1000
        with self.stats.lock:
            self.stats.requests[kind] += 1
            self.stats.latency_ms[kind].append(ms)
            if resp.status_code >= 500:
                self.stats.errors[kind] += 1
            elif resp.status_code in UNSUPPORTED and kind not in ("positions", "task_steps"):
                # (a step's 404 is a task that changed hands meanwhile, not a missing route)
                self.stats.skipped.add(kind)
            elif resp.status_code >= 400:
                self.stats.rejected[kind] += 1
        return resp

    def _send_fixes(self, fixes: list[dict[str, Any]]) -> None:
        resp = self._request("positions", "POST", "/positions", self.gateway,
                             json={"fixes": fixes})  # fmt: skip
        with self.stats.lock:
            self.stats.fixes_sent += len(fixes)
        if resp is not None and resp.status_code == 200:
            body = resp.json()
            with self.stats.lock:
                self.stats.created["positions"] += 1
                self.stats.fixes_accepted += body["accepted"]
                self.stats.fixes_duplicates += body["duplicates"]
                self.stats.fixes_rejected.update(r["reason"] for r in body["rejected"])

    def _send_event(self, i: int, photo: bool) -> None:
        f, rng = self.fleet, self.rng
        cat = str(rng.choice(list(EVENT_TITLES)))
        title = str(rng.choice(EVENT_TITLES[cat]))
        body = {
            "uuid": str(uuid.uuid4()),
            "category": cat,
            "severity": str(rng.choice(["low", "medium", "medium", "high"])),
            "title": title,
            "description": f"{SYNTHETIC_TAG} 网格员巡查发现：{title}（模拟器生成）",
            "lon": round(float(f.lon[i]), 7),
            "lat": round(float(f.lat[i]), 7),
            "crs": "wgs84",
        }
        if cat == "dispute":
            body["difficulty"] = str(rng.choice(["simple", "ordinary", "difficult"]))
        resp = self._request("events", "POST", "/events", f.tokens[i], json=body)
        if resp is None or resp.status_code not in (200, 201):
            return
        with self.stats.lock:
            self.stats.created["events"] += 1
        if photo and "photos" not in self.stats.skipped:
            files = [("photos", ("sim.jpg", tiny_jpeg(rng), "image/jpeg"))]
            resp = self._request("photos", "POST", f"/events/{body['uuid']}/photos",
                                 f.tokens[i], files=files)  # fmt: skip
            if resp is not None and resp.status_code in (200, 201):
                with self.stats.lock:
                    self.stats.created["photos"] += 1

    def _send_checkin(self, i: int) -> None:
        f = self.fleet
        body = {"uuid": str(uuid.uuid4()), "kind": "in", "crs": "wgs84",
                "at": dt.datetime.now(dt.UTC).isoformat(),
                "lon": round(float(f.lon[i]), 7), "lat": round(float(f.lat[i]), 7)}  # fmt: skip
        resp = self._request("checkins", "POST", "/checkins", f.tokens[i], json=body)
        if resp is not None and resp.status_code in (200, 201):
            with self.stats.lock:
                self.stats.created["checkins"] += 1

    def _advance_task(self, i: int) -> None:
        """Look at the worker's tasks and take the next step on the most urgent one."""
        token = self.fleet.tokens[i]
        resp = self._request("tasks", "GET", "/me/tasks?limit=5", token)
        if resp is None or resp.status_code != 200:
            return
        mine = [t for t in resp.json().get("items", []) if t.get("role") == "assigned"]
        if not mine:
            return
        t = mine[0]
        if t["status"] == "dispatched" and not t.get("acknowledged"):
            action, body = "accept", {}
        elif t["status"] == "dispatched":
            action, body = "start", {}
        elif t["status"] == "in_progress":
            action, body = "resolve", {"note": f"{SYNTHETIC_TAG} 已到现场处置完毕（模拟器生成）"}
        else:
            return
        body["version"] = t["version"]
        resp = self._request("task_steps", "POST", f"/events/{t['uuid']}/{action}", token,
                             json=body)  # fmt: skip
        if resp is not None and resp.status_code == 200 and not resp.json().get("replayed"):
            with self.stats.lock:
                self.stats.created["task_steps"] += 1

    def _submit(self, fn: Callable, *args) -> None:
        self.in_flight = [f for f in self.in_flight if not f.done()]
        while len(self.in_flight) >= self.cfg.max_in_flight:  # back-pressure
            self.in_flight[0].result()
            self.in_flight = [f for f in self.in_flight if not f.done()]
        self.in_flight.append(self.pool.submit(fn, *args))

    # ------------------------------------------------------------------ loop

    def tick(self, dt_s: float) -> None:
        """Move everyone, send the fixes that are due, maybe events and check-ins."""
        f, rng, cfg = self.fleet, self.rng, self.cfg
        move(f, dt_s, rng)
        now_m = time.monotonic()
        due = np.flatnonzero(f.next_fix <= now_m)
        if due.size:
            f.next_fix[due] += 60.0 / cfg.rate
            late = f.next_fix[due] < now_m  # a slow server: skip missed slots, no burst
            f.next_fix[due[late]] = now_m + 60.0 / cfg.rate
            stamp = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
            acc = rng.uniform(3, 15, due.size).round(1)
            fixes = [
                {"worker_id": f.employee_no[i], "fix_time": stamp, "accuracy": float(a),
                 "lon": round(float(f.lon[i]), 7), "lat": round(float(f.lat[i]), 7)}
                for i, a in zip(due.tolist(), acc, strict=True)
            ]  # fmt: skip
            for s in range(0, len(fixes), BATCH_MAX):
                self._submit(self._send_fixes, fixes[s : s + BATCH_MAX])
        if not self.with_token:
            return
        if cfg.checkins and "checkins" not in self.stats.skipped:
            todo = [i for i in self.with_token if i not in self.checked_in][:5]
            for i in todo:
                self.checked_in.add(i)
                self._submit(self._send_checkin, i)
        if "tasks" not in self.stats.skipped:
            for _ in range(rng.poisson(cfg.tasks_per_min / 60.0 * dt_s)):
                self._submit(self._advance_task, int(rng.choice(self.with_token)))
        if "events" in self.stats.skipped:
            return
        for _ in range(rng.poisson(cfg.events_per_min / 60.0 * dt_s)):
            i = int(rng.choice(self.with_token))
            self.events_created += 1
            photo = cfg.photos_every > 0 and self.events_created % cfg.photos_every == 0
            self._submit(self._send_event, i, photo)

    def run(self, progress: Callable[[float, Stats], None] | None = None) -> Stats:
        """Tick once a second for ``duration`` seconds (Ctrl-C stops early); wait for the
        requests in flight; return the statistics."""
        t0 = last = time.monotonic()
        try:
            while (now := time.monotonic()) - t0 < self.cfg.duration:
                self.tick(now - last if now > last else 1.0)
                last = now
                if progress:
                    progress(now - t0, self.stats)
                time.sleep(max(0.0, 1.0 - (time.monotonic() - now)))
        except KeyboardInterrupt:
            self.stats.interrupted = True
        finally:
            try:
                for fut in self.in_flight:
                    fut.result()
            except KeyboardInterrupt:  # a second Ctrl-C: give up waiting
                self.stats.interrupted = True
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.client.close()
            self.stats.seconds = time.monotonic() - t0
        return self.stats


def run_simulation(
    cfg: SimConfig,
    engine: Engine,
    tokens: dict[str, Any],
    progress: Callable[[float, Stats], None] | None = None,
) -> Stats:
    """Build the fleet from ``engine`` and drive ``cfg.base_url`` for ``cfg.duration`` s."""
    return Simulator(cfg, engine, tokens).run(progress)


def summary_rows(stats: Stats) -> list[tuple[str, str]]:
    """The end-of-run summary as (measure, value) rows."""
    s = max(stats.seconds, 1e-9)
    rows = [
        ("duration", f"{stats.seconds:.1f} s" + (" (interrupted)" if stats.interrupted else "")),
        ("fixes sent", f"{stats.fixes_sent:,} ({stats.fixes_sent / s:,.1f}/s)"),
        ("fixes accepted", f"{stats.fixes_accepted:,} ({stats.fixes_accepted / s:,.1f}/s)"),
        ("fixes duplicate", f"{stats.fixes_duplicates:,}"),
        ("fixes rejected", f"{sum(stats.fixes_rejected.values()):,} "
                           f"{dict(stats.fixes_rejected) or ''}".strip()),
    ]  # fmt: skip
    for kind in ("positions", "events", "photos", "checkins", "tasks", "task_steps"):
        n = stats.requests[kind]
        if not n and kind not in stats.skipped:
            continue
        if kind in stats.skipped:
            rows.append((f"{kind}", "skipped (route not on this server)"))
            continue
        rows.append((
            f"{kind} requests",
            f"{n:,} ({n / s * 60:,.1f}/min), stored {stats.created[kind]:,}, "
            f"4xx {stats.rejected[kind]:,}, errors {stats.errors[kind]:,}, "
            f"p50 {stats.p(kind, 50):,.0f} ms, p95 {stats.p(kind, 95):,.0f} ms",
        ))  # fmt: skip
    return rows
