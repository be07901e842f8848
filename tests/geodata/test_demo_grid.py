"""Invariants of the generated grid: counts, exact tiling, shared edges, vertex density,
validity, determinism. Geometry is checked with shapely, independently of PostGIS."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geodata.demo.grid import FULL_COUNTS, allocate, build_grid, level_targets, load_real_levels
from geodata.demo.tessellate import Wiggle
from tests.conftest import FIXTURE_SCALE, FIXTURE_SEED


def by_level(grid, level):
    mask = grid.cells.level.to_numpy() == level
    return grid.cells[mask], grid.geoms[mask]


def test_full_scale_targets_match_the_source():
    t = level_targets(1.0)
    assert t[5] == 14_577 == FULL_COUNTS[5]
    assert t[3] == 110 and t[4] == 1150


def test_counts_per_level(demo_grid):
    t = level_targets(FIXTURE_SCALE)
    counts = demo_grid.cells.level.value_counts().to_dict()
    assert counts[1] == 1 and counts[2] == 12
    assert counts[3] == t[3] and counts[4] == t[4] and counts[5] == t[5]
    # 2–4 micro-grids per grid
    l6 = demo_grid.cells[demo_grid.cells.level == 6]
    per = l6.groupby("parent_id").size()
    assert per.between(2, 4).all() and len(per) == t[5]


def test_real_levels_untouched(demo_grid):
    l1, l2 = load_real_levels()
    c2, g2 = by_level(demo_grid, 2)
    assert list(c2.name) == [f["properties"]["name"] for f in l2]
    assert "大理市" in set(c2.name) and len(c2) == 12
    assert not demo_grid.synthetic[:13].any() and demo_grid.synthetic[13:].all()


@pytest.mark.parametrize("level", [3, 4, 5, 6])
def test_children_tile_parent_exactly(demo_grid, level):
    cells = demo_grid.cells
    idx = {cid: i for i, cid in enumerate(cells.id)}
    kids, kg = by_level(demo_grid, level)
    assert shapely.is_valid(kg).all()
    for pid, group in kids.groupby("parent_id"):
        parent = demo_grid.geoms[idx[pid]]
        members = kg[np.isin(kids.id.to_numpy(), group.id.to_numpy())]
        union = shapely.union_all(members)
        area_sum = shapely.area(members).sum()
        assert abs(area_sum - parent.area) / parent.area < 1e-3  # cover
        assert (area_sum - union.area) / union.area < 1e-4  # no overlap
        assert union.difference(parent).area / union.area < 1e-4  # inside parent


def test_shared_edges_have_identical_vertices(demo_grid):
    """Every vertex of a cell that lies on a neighbour's boundary is also a vertex of that
    neighbour: no T-junctions within a level."""
    _, geoms = by_level(demo_grid, 5)
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    pts = shapely.points(coords)
    tree = shapely.STRtree(shapely.boundary(geoms))
    p_idx, g_idx = tree.query(pts, predicate="dwithin", distance=1e-10)
    other = owner[p_idx] != g_idx
    on_neighbour = set(zip(p_idx[other].tolist(), g_idx[other].tolist(), strict=True))
    keys = {(x, y, o) for (x, y), o in zip(map(tuple, coords), owner, strict=True)}
    missing = [(p, g) for p, g in on_neighbour if (coords[p][0], coords[p][1], g) not in keys]
    assert len(on_neighbour) > 1000  # there are many shared vertices ...
    assert missing == []  # ... and each exists on both sides


def test_vertex_density_and_digitised_look():
    grid = build_grid(seed=7, scale=0.05)
    _, geoms = by_level(grid, 5)
    assert shapely.get_num_coordinates(geoms).mean() >= 60
    # Not straight Voronoi edges: inner vertices deviate from the chord between neighbours.
    xy = shapely.get_coordinates(geoms[:200])
    a, b, c = xy[:-2], xy[1:-1], xy[2:]
    cross = np.abs((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0])
    assert np.mean(cross > 1e-12) > 0.5


def test_deterministic(demo_grid):
    again = build_grid(seed=FIXTURE_SEED, scale=FIXTURE_SCALE)
    assert list(again.cells.code) == list(demo_grid.cells.code)
    assert list(again.cells.name) == list(demo_grid.cells.name)
    assert (shapely.to_wkb(again.geoms) == shapely.to_wkb(demo_grid.geoms)).all()
    other = build_grid(seed=FIXTURE_SEED + 1, scale=FIXTURE_SCALE)
    same = set(shapely.to_wkb(other.geoms[13:])) & set(shapely.to_wkb(demo_grid.geoms[13:]))
    # only cells that are the whole parent (one child) can coincide
    assert len(same) < 0.1 * len(demo_grid.geoms)


def test_codes_extend_parent_codes(demo_grid):
    c = demo_grid.cells.set_index("id")
    sub = c[c.level >= 3]
    parent_codes = c.loc[sub.parent_id.astype(int), "code"].to_numpy()
    assert all(code.startswith(p) for code, p in zip(sub.code, parent_codes, strict=True))
    assert c.code.is_unique


def test_population_sums(demo_grid):
    c = demo_grid.cells
    assert abs(c[c.level == 1].population.iloc[0] - 3_600_000) < 36_000
    assert c[c.level == 6].population.sum() == c[c.level == 1].population.iloc[0]
    assert (c.households <= c.population).all() and (c.households > 0).all()


def test_allocate_is_exact_and_respects_minimum():
    out = allocate(100, np.array([1.0, 10.0, 0.001, 5.0]), minimum=3)
    assert out.sum() == 100 and out.min() >= 3
    with pytest.raises(ValueError):
        allocate(5, np.ones(3), minimum=2)


def test_wiggle_is_injective_by_construction():
    assert Wiggle().lipschitz_bound() < 1
    with pytest.raises(ValueError):
        from geodata.demo.tessellate import subdivide

        subdivide(
            np.array([shapely.box(0, 0, 1, 1)]),
            np.array([2]),
            np.array([shapely.box(0, 0, 1, 1).boundary]),
            rng=np.random.default_rng(0),
            size=0.5,
            seg_len=0.01,
            wiggle=Wiggle(components=((0.5, 0.1),)),
        )
