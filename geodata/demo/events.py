"""Synthetic historical events over the past 24 months, with their workflow history."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pandas as pd

from geodata.demo.grid import GridData
from geodata.demo.tessellate import sample_seeds

FULL_EVENTS = 8_952

CATEGORIES = {
    # category: (weight, subcategories, title templates)
    "dispute": (
        0.34,
        ["邻里纠纷", "土地纠纷", "婚姻家庭纠纷", "劳资纠纷", "山林权属纠纷"],
        ["{place}{sub}调处", "{place}村民反映{sub}"],
    ),
    "social_risk": (
        0.14,
        ["房屋安全隐患", "道路交通隐患", "地质灾害隐患", "消防隐患"],
        ["{place}发现{sub}", "{place}{sub}排查"],
    ),
    "public_security": (
        0.10,
        ["治安巡查", "可疑人员", "盗窃线索"],
        ["{place}{sub}情况报告", "{place}{sub}"],
    ),
    "party_building": (0.04, ["党员联系户", "组织生活"], ["{place}{sub}走访"]),
    "rural_revitalisation": (0.07, ["产业帮扶", "人居环境整治"], ["{place}{sub}进展"]),
    "civilised_city": (0.05, ["乱搭乱建", "占道经营"], ["{place}{sub}劝导"]),
    "ethnic_religious": (0.03, ["民族团结", "宗教场所"], ["{place}{sub}情况"]),
    "epidemic_prevention": (0.04, ["健康监测", "疫苗接种"], ["{place}{sub}入户"]),
    "environment": (0.07, ["河道垃圾", "污水排放", "秸秆焚烧"], ["{place}{sub}"]),
    "forest_fire": (0.05, ["野外用火", "防火巡护"], ["{place}{sub}"]),
    "livelihood": (0.07, ["低保申请", "独居老人关爱", "医保咨询"], ["{place}{sub}诉求"]),
}
DIFFICULTY_P = {"simple": 0.55, "ordinary": 0.35, "difficult": 0.10}
#: Hours to resolve by severity tier (red/yellow/blue style deadlines).
DEADLINE_H = {"critical": 2, "high": 24, "medium": 72, "low": 168}
FLOW = ["reported", "accepted", "dispatched", "in_progress", "resolved", "verified", "closed"]
STAMP = {
    "accepted": "accepted_at",
    "dispatched": "dispatched_at",
    "in_progress": "started_at",
    "resolved": "resolved_at",
    "verified": "verified_at",
    "closed": "closed_at",
}


def build_events(
    grid: GridData, workers: pd.DataFrame, *, seed: int, scale: float, now: dt.datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events attributed to their L6 cell, and one history row per state change."""
    rng = np.random.default_rng(seed + 2)
    n = max(1, round(FULL_EVENTS * scale))
    cells = grid.cells
    l6 = cells.index[cells.level == 6].to_numpy()
    w = cells.population.to_numpy()[l6].astype(float) + 1
    rows6 = rng.choice(l6, size=n, replace=True, p=w / w.sum())
    xy, _ = sample_seeds(grid.geoms[np.sort(rows6)], np.ones(n, dtype=np.int64), rng)
    rows6 = np.sort(rows6)

    cats = list(CATEGORIES)
    cp = np.array([CATEGORIES[c][0] for c in cats])
    category = rng.choice(cats, size=n, p=cp / cp.sum())
    difficulty = np.where(
        category == "dispute",
        rng.choice(list(DIFFICULTY_P), size=n, p=list(DIFFICULTY_P.values())),
        None,
    )
    severity = rng.choice(["low", "medium", "high", "critical"], size=n, p=[0.3, 0.45, 0.2, 0.05])

    # Reported times over the past 24 months, more in recent months.
    age_days = 730 * rng.power(0.8, n)
    reported = pd.Timestamp(now) - pd.to_timedelta(age_days, unit="D")

    # Final status by age: old events are (nearly) all closed or rejected.
    recent = age_days < 30
    final = np.where(rng.random(n) < 0.05, "rejected", "closed")
    open_choice = rng.choice(FLOW, size=n, p=[0.12, 0.12, 0.16, 0.2, 0.14, 0.08, 0.18])
    status = np.where(recent, open_choice, final)

    # Reporter: a worker of the event's L5 grid when there is one.
    cell_id = cells.id.to_numpy()[rows6]
    parent_of = dict(zip(cells.id, cells.parent_id, strict=True))
    l5_of_event = np.array([parent_of[c] for c in cell_id])
    by_cell = workers.groupby("cell_id").id.first()
    reporter = by_cell.reindex(l5_of_event).to_numpy()
    fallback = rng.choice(workers.id.to_numpy(), size=n)
    reporter = np.where(np.isnan(reporter.astype(float)), fallback, reporter).astype(np.int64)

    names = cells.name.to_numpy()[rows6]
    titles, subs = [], []
    for i in range(n):
        _, sublist, templates = CATEGORIES[category[i]]
        sub = sublist[int(rng.integers(len(sublist)))]
        tpl = templates[int(rng.integers(len(templates)))]
        place = names[i].split("第")[0]
        titles.append(tpl.format(place=place, sub=sub))
        subs.append(sub)

    ev = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "uuid": [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)],
            "category": category,
            "subcategory": subs,
            "severity": severity,
            "difficulty": difficulty,
            "title": titles,
            "description": [f"{t}（合成演示数据）" for t in titles],
            "x": xy[:, 0],
            "y": xy[:, 1],
            "cell_id": cell_id,
            "status": status,
            "reporter_id": reporter,
            "reported_at": reported,
        }
    )
    stamps: dict[str, list] = {c: [None] * n for c in [*STAMP.values(), "rejected_at", "due_at"]}
    assignee: list = [None] * n
    now_ts = pd.Timestamp(now)
    actions = []
    step_h = rng.gamma(1.5, 3.0, (n, len(FLOW)))
    late = rng.integers(1, 600, n)
    for i in range(n):
        t = reported[i]
        target = status[i]
        path = FLOW[: FLOW.index(target) + 1] if target in FLOW else ["reported", "accepted"]
        prev = None
        for j, st in enumerate(path):
            if j:
                t = t + pd.Timedelta(hours=float(step_h[i, j]))
                if t > now_ts:
                    t = now_ts - pd.Timedelta(minutes=int(late[i]) // (len(path) - j + 1))
                stamps[STAMP[st]][i] = t
            who = (
                ("worker", int(reporter[i]))
                if st in ("reported", "in_progress", "resolved")
                else ("system", None)
            )
            actions.append((i + 1, who[0], who[1], t, prev, st, "合成演示数据"))
            prev = st
        if target == "rejected":
            t = t + pd.Timedelta(hours=float(step_h[i, -1]))
            stamps["rejected_at"][i] = t
            actions.append(
                (i + 1, "system", None, t, prev, "rejected", "重复或无效（合成演示数据）")
            )
        if stamps["dispatched_at"][i] is not None:
            stamps["due_at"][i] = stamps["dispatched_at"][i] + pd.Timedelta(
                hours=DEADLINE_H[severity[i]]
            )
            assignee[i] = int(reporter[i])
    for col, vals in stamps.items():
        ev[col] = pd.to_datetime(pd.Series(vals, dtype=object), utc=True)
    ev["assignee_id"] = pd.array(assignee, dtype="Int64")
    hist = pd.DataFrame(
        actions,
        columns=["event_id", "actor_type", "actor_id", "at", "from_status", "to_status", "note"],
    )
    hist["actor_id"] = hist.actor_id.astype("Int64")
    return ev, hist
