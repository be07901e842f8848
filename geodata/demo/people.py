"""Synthetic grid workers (Faker zh_CN), their current positions and a recent GPS history."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from faker import Faker

from geodata.demo.grid import GridData
from geodata.demo.tessellate import sample_seeds

FULL_WORKERS = 25_884
ON_DUTY_SHARE = 0.6
HISTORY_FIXES = 12  # one fix every 5 minutes over the last hour
FIX_INTERVAL = dt.timedelta(minutes=5)


def build_workers(
    grid: GridData, *, seed: int, scale: float, now: dt.datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Workers and their position history.

    Every L5 grid gets one worker (assigned to the grid itself); the rest are assigned to
    micro-grids weighted by population. About 60 % are on duty with a fix in the last
    10 minutes inside (or within a few tens of metres of) their cell.
    """
    rng = np.random.default_rng(seed + 1)
    cells = grid.cells
    l5 = cells.index[cells.level == 5].to_numpy()
    l6 = cells.index[cells.level == 6].to_numpy()
    total = max(len(l5), round(FULL_WORKERS * scale))
    extra = total - len(l5)
    w = cells.population.to_numpy()[l6].astype(float) + 1
    extra_cells = rng.choice(l6, size=extra, replace=True, p=w / w.sum())
    cell_rows = np.concatenate([l5, np.sort(extra_cells)])

    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    names = [fake.name() for _ in range(total)]
    phones = [fake.phone_number() for _ in range(total)]
    county = cells.code.to_numpy()[cell_rows].astype(str)
    employee_no = [f"WG{c[:6]}-{i + 1:05d}" for i, c in enumerate(county)]

    on_duty = rng.random(total) < ON_DUTY_SHARE
    duty = np.where(on_duty, "on_duty", np.where(rng.random(total) < 0.1, "on_leave", "off_duty"))
    geoms = grid.geoms[cell_rows]
    xy, _ = sample_seeds(geoms, np.ones(total, dtype=np.int64), rng)
    # GPS noise: a few metres to a few tens of metres, so some fixes fall just outside.
    xy = xy + rng.normal(0, 0.00015, xy.shape)
    age = np.where(on_duty, rng.uniform(5, 600, total), rng.uniform(3_600, 72 * 3_600, total))
    now_ns = pd.Timestamp(now).tz_convert("UTC").tz_localize(None).to_datetime64()
    last_fix = now_ns - pd.to_timedelta(age, unit="s").to_numpy()
    has_fix = on_duty | (rng.random(total) < 0.7)

    workers = pd.DataFrame(
        {
            "id": np.arange(1, total + 1),
            "employee_no": employee_no,
            "name": names,
            "phone": phones,
            "cell_id": cells.id.to_numpy()[cell_rows],
            "duty_status": duty,
            "x": np.where(has_fix, xy[:, 0], np.nan),
            "y": np.where(has_fix, xy[:, 1], np.nan),
            "last_fix_at": pd.Series(last_fix).dt.tz_localize("UTC").where(has_fix),
        }
    )

    # History: a random walk ending at the current fix, for on-duty workers.
    ids = workers.id.to_numpy()[on_duty]
    end_xy = xy[on_duty]
    end_t = last_fix[on_duty]
    k = HISTORY_FIXES
    steps = rng.normal(0, 0.0004, (len(ids), k, 2))  # ~40 m per 5 minutes
    steps[:, -1, :] = 0
    walk = end_xy[:, None, :] - np.cumsum(steps[:, ::-1, :], axis=1)[:, ::-1, :]
    offsets = np.arange(k - 1, -1, -1) * FIX_INTERVAL
    times = end_t[:, None] - pd.to_timedelta(offsets).to_numpy()[None, :]
    history = pd.DataFrame(
        {
            "worker_id": np.repeat(ids, k),
            "fix_time": times.ravel(),
            "x": walk[:, :, 0].ravel(),
            "y": walk[:, :, 1].ravel(),
            "accuracy_m": np.round(rng.gamma(2.0, 6.0, len(ids) * k), 1),
            "source": "simulated",
        }
    )
    history["fix_time"] = pd.to_datetime(history.fix_time, utc=True)
    return workers, history
