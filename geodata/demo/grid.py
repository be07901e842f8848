"""Build the six grid levels of the Dali demo: real L1/L2, synthetic L3–L6.

Counts follow the source article (about 110 townships, about 1,150 villages, exactly 14,577
all-purpose grids at full scale, 2–4 micro-grids per grid) and are allocated by a settlement
density field (county seats and township seats), so cells are small in towns and large in the
mountains. Populations per micro-grid follow the same field and sum to about 3.6 million.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from geodata.demo.names import place_names
from geodata.demo.tessellate import Wiggle, subdivide

DATA = Path(__file__).resolve().parents[1] / "data" / "dali_admin.geojson"

FULL_COUNTS = {3: 110, 4: 1150, 5: 14_577}
TOTAL_POPULATION = 3_600_000

#: Approximate county-seat locations (lon, lat), used only to shape the synthetic density.
COUNTY_SEATS = {
    "532901": (100.235, 25.606),
    "532922": (99.955, 25.670),
    "532923": (100.555, 25.477),
    "532924": (100.573, 25.826),
    "532925": (100.491, 25.343),
    "532926": (100.511, 25.040),
    "532927": (100.307, 25.227),
    "532928": (99.541, 25.464),
    "532929": (99.372, 25.886),
    "532930": (99.949, 26.112),
    "532931": (99.905, 26.537),
    "532932": (100.176, 26.560),
}

FINE_WIGGLE = Wiggle(components=((0.02, 1.0), (0.01, 0.3), (0.002, 0.08)), taper=0.2)


@dataclass
class GridData:
    """All cells of the six levels as one table (ordered by level, then code)."""

    cells: pd.DataFrame  # id, code, level, name, parent_id, path, population, households
    geoms: np.ndarray  # MultiPolygon per row
    synthetic: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def level(self, k: int) -> pd.DataFrame:
        return self.cells[self.cells.level == k]


def level_targets(scale: float) -> dict[int, int]:
    """Cell totals per level for a given scale (1.0 = the full Dali numbers)."""
    if not 0 < scale <= 1:
        raise ValueError("scale must be in (0, 1]")
    l3 = max(12, round(FULL_COUNTS[3] * scale**0.5))
    l4 = max(l3, round(FULL_COUNTS[4] * scale**0.75))
    l5 = max(l4, round(FULL_COUNTS[5] * scale))
    return {3: l3, 4: l4, 5: l5}


def allocate(total: int, weights: np.ndarray, minimum: int = 1) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder), each at
    least ``minimum``; the result sums to ``total`` exactly."""
    n = len(weights)
    if total < n * minimum:
        raise ValueError("total too small for the minimum per parent")
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    spare = total - n * minimum
    raw = w * spare
    base = np.floor(raw).astype(np.int64)
    rest = spare - base.sum()
    order = np.argsort(-(raw - base), kind="stable")
    base[order[:rest]] += 1
    return base + minimum


class Density:
    """Settlement density: a floor plus Gaussian bumps at county and township seats."""

    def __init__(self) -> None:
        self.centres = np.zeros((0, 2))
        self.weights = np.zeros(0)
        self.sigmas = np.zeros(0)

    def add(self, xy: np.ndarray, weight: float, sigma: float) -> None:
        self.centres = np.vstack([self.centres, xy])
        self.weights = np.concatenate([self.weights, np.full(len(xy), weight)])
        self.sigmas = np.concatenate([self.sigmas, np.full(len(xy), sigma)])

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.full(np.shape(x), 0.3)
        for (cx, cy), w, s in zip(self.centres, self.weights, self.sigmas, strict=True):
            r2 = (x - cx) ** 2 + (y - cy) ** 2
            near = r2 < (5 * s) ** 2
            out[near] += w * np.exp(-r2[near] / (2 * s * s))
        return out

    def mass(self, geoms: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Approximate integral of the density over each geometry (area × mean density)."""
        from geodata.demo.tessellate import sample_seeds

        k = 12
        xy, owner = sample_seeds(geoms, np.full(len(geoms), k), rng)
        d = self(xy[:, 0], xy[:, 1]).reshape(len(geoms), k).mean(axis=1)
        return shapely.area(geoms) * d


def load_real_levels() -> tuple[dict, list[dict]]:
    """The committed real L1 (prefecture) and L2 (12 counties) features."""
    data = json.loads(DATA.read_text(encoding="utf-8"))
    feats = data["features"]
    l1 = next(f for f in feats if f["properties"]["level"] == 1)
    l2 = sorted(
        (f for f in feats if f["properties"]["level"] == 2), key=lambda f: f["properties"]["code"]
    )
    return l1, l2


def _order_key(xy: np.ndarray) -> np.ndarray:
    """Number children north-west first (rows of ~2 km bands, then west to east)."""
    return np.lexsort((xy[:, 0], -np.round(xy[:, 1] / 0.02)))


def build_grid(seed: int = 532900, scale: float = 1.0, progress=None) -> GridData:
    """Generate all six levels deterministically from ``seed``.

    ``progress(msg)`` is called after each step. Coordinates are EPSG:4326 lon/lat.
    """
    note = progress or (lambda _m: None)
    rng = np.random.default_rng(seed)
    targets = level_targets(scale)
    l1, l2 = load_real_levels()

    rows: list[dict] = []
    geoms: list = []
    synthetic: list[bool] = []

    def add(code, level, name, parent_id, path, geom, synth):
        rows.append(
            {
                "id": len(rows) + 1,
                "code": code,
                "level": level,
                "name": name,
                "parent_id": parent_id,
                "path": path,
            }
        )
        geoms.append(geom)
        synthetic.append(synth)
        return len(rows)

    def multi(g):
        g = shape(g)
        return g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g])

    pref_id = add(
        l1["properties"]["code"],
        1,
        l1["properties"]["name"],
        None,
        l1["properties"]["code"],
        multi(l1["geometry"]),
        False,
    )
    parent_ids, parent_paths, parent_codes, parent_names = [], [], [], []
    for f in l2:
        p = f["properties"]
        pid = add(
            p["code"],
            2,
            p["name"],
            pref_id,
            f"{l1['properties']['code']}.{p['code']}",
            multi(f["geometry"]),
            False,
        )
        parent_ids.append(pid)
        parent_paths.append(rows[-1]["path"])
        parent_codes.append(p["code"])
        parent_names.append(p["name"])
    parents = np.array(geoms[1:], dtype=object)
    lines = shapely.get_parts(shapely.union_all(shapely.boundary(parents)))

    density = Density()
    seats = []
    for code, g in zip(parent_codes, parents, strict=True):
        x, y = COUNTY_SEATS.get(code, (np.nan, np.nan))
        if not (np.isfinite(x) and g.contains(shapely.Point(x, y))):
            pt = g.point_on_surface()
            x, y = pt.x, pt.y
        seats.append((x, y))
    density.add(np.array(seats), weight=12.0, sigma=0.04)

    area = float(shapely.area(parents).sum())
    n5 = targets[5]
    seg_len = np.sqrt(area / n5) / 20
    note("real boundaries")

    for level in (3, 4, 5, 6):
        if level == 3:
            counts = allocate(targets[3], shapely.area(parents) ** 0.8, minimum=1)
        elif level in (4, 5):
            mass = density.mass(parents, rng)
            exponent = 0.6 if level == 4 else 1.0
            counts = allocate(targets[level], mass**exponent, minimum=1)
        else:
            d = density(*shapely.get_coordinates(shapely.point_on_surface(parents)).T)
            counts = np.where(
                d > 3, rng.integers(3, 5, len(parents)), rng.integers(2, 4, len(parents))
            )
        size = np.sqrt(area / counts.sum())
        lv = subdivide(
            parents,
            counts,
            lines,
            rng=rng,
            size=size,
            seg_len=seg_len,
            density=density if level < 6 else None,
            wiggle=Wiggle() if level <= 4 else FINE_WIGGLE,
        )
        kids = lv.children
        new_ids, new_paths, new_codes, new_names = [], [], [], []
        digits = 2 if level == 6 else 3
        for pi in range(len(parents)):
            members = np.flatnonzero(lv.parent_index == pi)
            members = members[_order_key(lv.seeds[members])]
            if level == 3:
                stems = place_names(len(members), rng)
                dseat = density(lv.seeds[members, 0], lv.seeds[members, 1])
                urban = (
                    set(np.argsort(-dseat)[: max(1, len(members) // 6)].tolist())
                    if dseat.max() > 4
                    else set()
                )
                suffix = [
                    "街道" if j in urban else ("镇" if rng.random() < 0.6 else "乡")
                    for j in range(len(members))
                ]
            elif level == 4:
                stems = place_names(len(members), rng)
                dv = density(lv.seeds[members, 0], lv.seeds[members, 1])
                suffix = ["社区" if v > 4 else "村" for v in dv]
            for j, m in enumerate(members):
                code = f"{parent_codes[pi]}{j + 1:0{digits}d}"
                if level in (3, 4):
                    name = stems[j] + suffix[j]
                elif level == 5:
                    name = f"{parent_names[pi]}第{j + 1}网格"
                else:
                    name = f"{parent_names[pi]}-{j + 1}号微网格"
                cid = add(
                    code, level, name, parent_ids[pi], f"{parent_paths[pi]}.{code}", kids[m], True
                )
                new_ids.append(cid)
                new_paths.append(rows[-1]["path"])
                new_codes.append(code)
                new_names.append(name)
        order = np.concatenate(
            [
                (lambda mm: mm[_order_key(lv.seeds[mm])])(np.flatnonzero(lv.parent_index == pi))
                for pi in range(len(parents))
            ]
        )
        parents = kids[order]
        lines = lv.lines
        parent_ids, parent_paths, parent_codes, parent_names = (
            new_ids,
            new_paths,
            new_codes,
            new_names,
        )
        if level == 3:
            density.add(lv.seeds, weight=3.0, sigma=0.015)
        note(f"level {level}: {len(kids):,} cells")

    cells = pd.DataFrame(rows)
    geoms_a = np.array(geoms, dtype=object)
    _attach_population(cells, geoms_a, density, rng)
    note("population")
    return GridData(cells=cells, geoms=geoms_a, synthetic=np.array(synthetic))


def _attach_population(cells: pd.DataFrame, geoms: np.ndarray, density: Density, rng) -> None:
    """Population per L6 from density × area with noise, scaled to ~3.6 M, summed upwards."""
    l6 = np.flatnonzero(cells.level.to_numpy() == 6)
    pts = shapely.point_on_surface(geoms[l6])
    xy = shapely.get_coordinates(pts)
    d = density(xy[:, 0], xy[:, 1])
    w = shapely.area(geoms[l6]) * d**1.3 * rng.lognormal(0, 0.35, len(l6))
    pop = np.round(w / w.sum() * TOTAL_POPULATION).astype(np.int64)
    hh = np.maximum(1, np.round(pop / rng.uniform(2.8, 3.6, len(l6)))).astype(np.int64)
    pop = np.maximum(pop, hh)
    population = np.zeros(len(cells), dtype=np.int64)
    households = np.zeros(len(cells), dtype=np.int64)
    population[l6] = pop
    households[l6] = hh
    idx = pd.Series(np.arange(len(cells)), index=cells.id.to_numpy())
    parent_pos = idx.reindex(cells.parent_id.fillna(-1).astype(np.int64).to_numpy()).to_numpy()
    for level in (6, 5, 4, 3, 2):
        rows_l = np.flatnonzero(cells.level.to_numpy() == level)
        pp = parent_pos[rows_l].astype(np.int64)
        np.add.at(population, pp, population[rows_l])
        np.add.at(households, pp, households[rows_l])
    cells["population"] = population
    cells["households"] = households


_LAEA = Transformer.from_crs(
    "EPSG:4326", "+proj=laea +lat_0=25.7 +lon_0=100 +ellps=WGS84", always_xy=True
)


def area_km2(geoms: np.ndarray) -> np.ndarray:
    """Ellipsoidal area in km² (Lambert azimuthal equal-area centred on Dali)."""
    projected = shapely.transform(
        geoms, lambda xy: np.column_stack(_LAEA.transform(xy[:, 0], xy[:, 1]))
    )
    return shapely.area(projected) / 1e6
