"""Subdivide polygons into children that tile them exactly, with digitised-looking boundaries.

The method (one pass per grid level, over all parents at once):

1. Seeds are sampled inside each parent (density-weighted) and relaxed once (Lloyd).
2. Each parent's Voronoi edges are clipped to the parent, densified, and *noded together with
   the parent linework of the whole level* (one ``union_all``), then polygonised. Every shared
   edge therefore exists exactly once, so both neighbours carry identical vertices, also across
   parent boundaries (no T-junctions inside a level).
3. Faces are matched to seeds by containment; faces without a seed (pieces of a Voronoi cell cut
   off by a concave parent) are merged into the same-parent neighbour they share most boundary
   with. The child count per parent is therefore exact.
4. Every vertex is moved by one smooth displacement field ``φ(x, y)`` that is zero on the parent
   linework (tapered by distance to it) and whose Lipschitz constant is kept below 1, so φ is
   injective: tiling, validity and parent boundaries are preserved while straight Voronoi edges
   become meandering, digitised-looking lines. φ is a pure function of the coordinates, so a
   vertex shared by two cells moves identically in both.

Coordinates are lon/lat degrees (EPSG:4326) throughout; lengths are given in degrees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree

DensityFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Wiggle:
    """Displacement field parameters, relative to the level's typical cell size ``s``."""

    #: (amplitude, wavelength) pairs as fractions of ``s``
    components: tuple[tuple[float, float], ...] = ((0.03, 1.0), (0.006, 0.25), (0.0008, 0.06))
    #: taper width (fraction of ``s``): displacement ramps from 0 at the parent linework
    taper: float = 0.2

    def lipschitz_bound(self) -> float:
        """Upper bound of the displacement's Lipschitz constant (must stay < 1)."""
        amp = sum(a for a, _ in self.components)
        slope = sum(2 * np.pi * a / lam for a, lam in self.components)
        return float(np.sqrt(2) * (slope + amp / self.taper))


def sample_seeds(
    parents: np.ndarray,
    counts: np.ndarray,
    rng: np.random.Generator,
    density: DensityFn | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``counts[i]`` points inside each ``parents[i]``, accepted with probability ``density``
    relative to the parent's densest candidate. Returns ``(xy, parent_index)`` by parent.

    Vectorised over all parents: candidates are drawn in each parent's bounding box in rounds
    until every parent has enough.
    """
    counts = np.asarray(counts, dtype=np.int64)
    bounds = shapely.bounds(parents)
    shapely.prepare(parents)
    got: list[list[np.ndarray]] = [[] for _ in parents]
    need = counts.copy()
    todo = np.flatnonzero(need > 0)
    for _ in range(200):
        if len(todo) == 0:
            break
        per = np.maximum(16, need[todo] * 6)
        owner = np.repeat(todo, per)
        b = bounds[owner]
        x = rng.uniform(b[:, 0], b[:, 2])
        y = rng.uniform(b[:, 1], b[:, 3])
        keep = shapely.contains_xy(parents[owner], x, y)
        if density is not None:
            # Accept relative to the densest candidate of the same parent in this round, so
            # sparse rural parents do not starve.
            d = np.where(keep, density(x, y), 0.0)
            starts = np.searchsorted(owner, todo)
            top = np.maximum.reduceat(d, starts)
            top = np.repeat(np.where(top > 0, top, 1.0), per)
            keep &= rng.uniform(0, 1, len(x)) * top < d
        ow, xs, ys = owner[keep], x[keep], y[keep]
        starts = np.searchsorted(ow, todo)
        ends = np.searchsorted(ow, todo, side="right")
        for i, a, z in zip(todo, starts, ends, strict=True):
            take = min(int(need[i]), int(z - a))
            if take:
                got[i].append(np.column_stack([xs[a : a + take], ys[a : a + take]]))
                need[i] -= take
        todo = np.flatnonzero(need > 0)
    if len(todo):
        raise RuntimeError(f"could not sample seeds inside {len(todo)} parents")
    xy = np.concatenate([np.concatenate(g) for g in got if g])
    return xy, np.repeat(np.arange(len(parents)), counts)


def _multipoints(xy: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """One MultiPoint per parent (``None`` where a parent has no points)."""
    out = np.full(n, None, dtype=object)
    present = np.unique(owner)
    out[present] = shapely.multipoints(xy, indices=np.searchsorted(present, owner))
    return out


def lloyd(parents: np.ndarray, xy: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """One Lloyd relaxation step: move each seed to the centroid of its Voronoi cell clipped
    to its parent (kept only when that centroid lies inside the parent). Vectorised."""
    counts = np.bincount(owner, minlength=len(parents))
    multi = np.flatnonzero(counts >= 2)
    if len(multi) == 0:
        return xy
    mp = _multipoints(xy, owner, len(parents))[multi]
    vor = shapely.voronoi_polygons(mp, extend_to=parents[multi], ordered=True)
    cells, cidx = shapely.get_parts(vor, return_index=True)
    cell_parent = multi[cidx]
    clipped = shapely.intersection(cells, parents[cell_parent])
    cent = shapely.centroid(clipped)
    cx, cy = shapely.get_x(cent), shapely.get_y(cent)
    ok = ~np.isnan(cx)
    ok[ok] = shapely.contains_xy(parents[cell_parent][ok], cx[ok], cy[ok])
    # ordered=True keeps input order within each parent; seeds are sorted by parent.
    rows = np.flatnonzero(np.isin(owner, multi))
    if len(rows) != len(cells):
        return xy
    out = xy.copy()
    out[rows[ok], 0] = cx[ok]
    out[rows[ok], 1] = cy[ok]
    return out


def _segments(lines: np.ndarray) -> np.ndarray:
    """All 2-point segments of ``lines`` (for a nearest-segment index)."""
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    same = idx[1:] == idx[:-1]
    starts = coords[:-1][same]
    ends = coords[1:][same]
    return shapely.linestrings(np.stack([starts, ends], axis=1))


@dataclass
class Field:
    """The displacement field φ of one level (see module docstring)."""

    size: float
    wiggle: Wiggle
    rng: np.random.Generator
    fixed_lines: np.ndarray

    def __post_init__(self) -> None:
        comps = []
        for amp, lam in self.wiggle.components:
            k = 2 * np.pi / (lam * self.size)
            th = self.rng.uniform(0, 2 * np.pi, 2)
            ph = self.rng.uniform(0, 2 * np.pi, 2)
            comps.append((amp * self.size, k * np.cos(th), k * np.sin(th), ph))
        self._comps = comps
        self._width = self.wiggle.taper * self.size
        segs = _segments(self.fixed_lines)
        self._tree = STRtree(segs)
        self._fixed_keys = np.unique(_key(shapely.get_coordinates(self.fixed_lines)))

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        if len(xy) == 0:
            return xy
        x, y = xy[:, 0], xy[:, 1]
        dx = np.zeros_like(x)
        dy = np.zeros_like(y)
        for amp, kx, ky, ph in self._comps:
            dx += amp * np.sin(kx[0] * x + ky[0] * y + ph[0])
            dy += amp * np.sin(kx[1] * x + ky[1] * y + ph[1])
        # Vertices of the fixed linework do not move at all; only the others need a distance.
        t = np.zeros_like(x)
        free = ~np.isin(_key(xy), self._fixed_keys)
        pts = shapely.points(xy[free])
        (i_pt, _), dist = self._tree.query_nearest(
            pts, max_distance=self._width, return_distance=True, all_matches=False
        )
        tf = np.ones(len(pts))
        tf[i_pt] = np.clip(dist / self._width, 0.0, 1.0)
        t[free] = tf
        return np.column_stack([x + t * dx, y + t * dy])


def _key(xy: np.ndarray) -> np.ndarray:
    """Exact hashable key per coordinate pair (complex number of the two floats)."""
    return xy[:, 0] + 1j * xy[:, 1]


@dataclass
class Level:
    """Result of subdividing one level."""

    children: np.ndarray  # MultiPolygon per child
    parent_index: np.ndarray  # index into the parents array
    seeds: np.ndarray  # (n, 2) seed per child (inside the child before displacement)
    lines: np.ndarray  # noded linework of this level (fixed linework of the next one)


def subdivide(
    parents: np.ndarray,
    counts: np.ndarray,
    parent_lines: np.ndarray,
    *,
    rng: np.random.Generator,
    size: float,
    seg_len: float,
    density: DensityFn | None = None,
    wiggle: Wiggle | None = None,
    progress: Callable[[str], None] | None = None,
) -> Level:
    """Split each ``parents[i]`` into ``counts[i]`` children tiling it exactly.

    ``parent_lines`` is the linework of the whole parent level (boundaries of all parents); its
    vertices never move. ``size`` is the typical child size and ``seg_len`` the maximum segment
    length of new boundaries, both in degrees.
    """
    wiggle = wiggle or Wiggle()
    if wiggle.lipschitz_bound() >= 1.0:
        raise ValueError("wiggle too strong: displacement would not be injective")
    note = progress or (lambda _msg: None)

    xy, seed_parent = sample_seeds(parents, counts, rng, density)
    xy = lloyd(parents, xy, seed_parent)  # relaxed once (step 1 of the module docstring)
    note("seeds")

    # Voronoi edges per parent, clipped to a hair-larger parent so that every clipped end
    # properly crosses the parent boundary (noding then splits it there; the overshoot is a
    # dangle that polygonize drops).
    eps = seg_len * 1e-3
    multi = np.flatnonzero(np.asarray(counts) >= 2)
    mp = _multipoints(xy, seed_parent, len(parents))[multi]
    edges = shapely.voronoi_polygons(mp, extend_to=parents[multi], only_edges=True)
    grown = shapely.buffer(parents[multi], eps, quad_segs=1, join_style="mitre")
    clipped = shapely.intersection(edges, grown)
    clipped = shapely.segmentize(clipped, seg_len)
    note("edges")

    noded = shapely.get_parts(
        shapely.union_all(np.concatenate([parent_lines, shapely.get_parts(clipped)]))
    )
    faces = shapely.get_parts(shapely.polygonize(noded))
    note("faces")

    # Children: one per seed; seedless faces are merged into a neighbour of the same parent.
    n_child = len(xy)
    face_tree = STRtree(faces)
    s_idx, f_idx = face_tree.query(shapely.points(xy), predicate="within")
    if len(np.unique(s_idx)) != n_child or len(np.unique(f_idx)) != len(f_idx):
        raise RuntimeError("seed/face assignment is not one-to-one")
    face_child = np.full(len(faces), -1)
    face_child[f_idx] = s_idx
    orphans = np.flatnonzero(face_child < 0)
    if len(orphans):
        _adopt_orphans(faces, face_child, orphans, seed_parent, parents)
    children = np.empty(n_child, dtype=object)
    children[face_child[f_idx]] = faces[f_idx]
    for c in np.unique(face_child[orphans]) if len(orphans) else ():
        children[c] = shapely.union_all(faces[face_child == c])
    note("children")

    field = Field(size=size, wiggle=wiggle, rng=rng, fixed_lines=parent_lines)
    # φ is evaluated once per distinct vertex of the noded linework (every child vertex is one
    # of them) and looked up for the children, so shared vertices move identically.
    coords = shapely.get_coordinates(noded)
    keys, first = np.unique(_key(coords), return_index=True)
    moved = field(coords[first])

    def lookup(c: np.ndarray) -> np.ndarray:
        k = _key(c)
        pos = np.clip(np.searchsorted(keys, k), 0, len(keys) - 1)
        hit = keys[pos] == k
        out = np.empty_like(c)
        out[hit] = moved[pos[hit]]
        if not hit.all():  # vertices created by a union (not expected): compute directly
            out[~hit] = field(c[~hit])
        return out

    children = shapely.transform(children, lookup)
    children = np.array([_as_multi(g) for g in children], dtype=object)
    lines = shapely.transform(noded, lookup)
    note("displace")
    return Level(children=children, parent_index=seed_parent, seeds=xy, lines=lines)


def _as_multi(g):
    if g.geom_type == "MultiPolygon":
        return g
    if g.geom_type == "Polygon":
        return shapely.MultiPolygon([g])
    polys = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon"]
    return shapely.MultiPolygon(polys)


def face_parent_of_child(face_child: np.ndarray, seed_parent: np.ndarray) -> np.ndarray:
    """Parent index of each face's child (-1 for faces without a child yet)."""
    out = np.full(len(face_child), -1)
    has = face_child >= 0
    out[has] = seed_parent[face_child[has]]
    return out


def _adopt_orphans(faces, face_child, orphans, seed_parent, parents) -> None:
    """Give each seedless face to the neighbouring child (same parent) it shares most
    boundary with. Runs until every face has an owner (orphans may border only orphans)."""
    face_parent = np.full(len(faces), -1)
    rp = shapely.point_on_surface(faces[orphans])
    p_tree = STRtree(parents)
    pi, pj = p_tree.query(rp, predicate="within")
    face_parent[orphans[pi]] = pj
    tree = STRtree(faces)
    pending = list(orphans)
    for _ in range(50):
        if not pending:
            return
        still = []
        for f in pending:
            cand = tree.query(faces[f], predicate="touches")
            best, best_len = -1, 0.0
            for c in cand:
                owner = face_child[c]
                if owner < 0 or seed_parent[owner] != face_parent[f]:
                    continue
                shared = shapely.intersection(faces[f].boundary, faces[c].boundary).length
                if shared > best_len:
                    best, best_len = owner, shared
            if best >= 0:
                face_child[f] = best
            else:
                still.append(f)
        if still and len(still) == len(pending):
            # No progress: these faces are separate parts of a multi-part parent (an exclave).
            # Give each to the nearest child of the same parent (it becomes multi-part too).
            for f in still:
                mine = np.flatnonzero(
                    (face_child >= 0)
                    & (face_parent_of_child(face_child, seed_parent) == face_parent[f])
                )
                if len(mine):
                    d = shapely.distance(faces[f], faces[mine])
                    face_child[f] = face_child[mine[int(np.argmin(d))]]
            still = [f for f in still if face_child[f] < 0]
        pending = still
    areas = [round(faces[f].area, 12) for f in pending[:5]]
    raise RuntimeError(
        f"{len(pending)} faces could not be attributed to a child "
        f"(parents {[int(face_parent[f]) for f in pending[:5]]}, areas {areas})"
    )
