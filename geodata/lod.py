"""Level-of-detail geometry: build the pre-simplified bands and serve one viewport's payload.

Build (after seeding or importing cells): for every level and every zoom band in which that
level can be drawn (``gridcmd.zoom.bands_for_level``), the whole level is simplified at once as a
*coverage* (``shapely.coverage_simplify``: topology-preserving, so neighbours keep sharing their
simplified edges and no gaps open), coordinates are rounded to the band's quantum, and the
result is stored in ``grid_cell_lod``. A build id is stored in ``grid_meta`` for ETags.

Serve: one indexed query (band, level, bbox — a composite GiST index) inside the caller's scope,
encoded by PostGIS itself as geobuf (``ST_AsGeobuf``), so no per-feature Python runs per request.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geodata.cells import check_scope_path
from gridcmd.zoom import BANDS, bands_for_level, display_level, natural_level

LOD_VERSION_KEY = "lod_version"
#: An empty FeatureCollection in geobuf (``ST_AsGeobuf`` over no rows is NULL).
EMPTY_GEOBUF = b"\x22\x00"


def build_lod(engine: Engine, progress: Callable[[str], None] | None = None) -> dict[int, int]:
    """(Re)build ``grid_cell_lod`` for all levels; returns rows per band. One transaction."""
    note = progress or (lambda _m: None)
    rows_per_band: dict[int, int] = {}
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE grid_cell_lod"))
        raw = conn.connection.driver_connection
        for level in range(1, 7):
            bands = bands_for_level(level)
            if not bands:
                continue
            rows = conn.execute(
                text("SELECT id, ST_AsBinary(geom) FROM grid_cell WHERE level = :l ORDER BY id"),
                {"l": level},
            ).all()
            if not rows:
                continue
            ids = np.array([r[0] for r in rows])
            geoms = shapely.from_wkb([bytes(r[1]) for r in rows])
            for band in bands:
                spec = BANDS[band]
                simple = shapely.coverage_simplify(geoms, spec.tolerance)
                quant = shapely.transform(simple, lambda xy, d=spec.digits: np.round(xy, d))
                quant = shapely.remove_repeated_points(quant)
                quant = np.array([_multi(g) for g in quant], dtype=object)
                _copy_band(raw, band, level, ids, quant)
                rows_per_band[band] = rows_per_band.get(band, 0) + len(ids)
            note(f"LOD level {level}: bands {bands}")
        conn.execute(
            text(
                "INSERT INTO grid_meta (key, value, updated_at) VALUES (:k, :v, now()) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()"
            ),
            {"k": LOD_VERSION_KEY, "v": uuid.uuid4().hex[:12]},
        )
        # Rows of one band and level together on disk: a viewport reads few heap pages.
        conn.execute(text("CLUSTER grid_cell_lod USING ix_grid_cell_lod_band_level_geom"))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE grid_cell_lod"))
    return rows_per_band


def _multi(g):
    if g.geom_type == "MultiPolygon":
        return g
    if g.geom_type == "Polygon":
        return shapely.MultiPolygon([g])
    return shapely.MultiPolygon([p for p in shapely.get_parts(g) if p.geom_type == "Polygon"])


def _copy_band(raw, band: int, level: int, ids: np.ndarray, geoms: np.ndarray) -> None:
    df = pd.DataFrame(
        {
            "band": band,
            "cell_id": ids,
            "level": level,
            "geom": shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True),
            "n_vertices": shapely.get_num_coordinates(geoms),
        }
    )
    buf = io.StringIO()
    df.to_csv(buf, index=False, header=False)
    with (
        raw.cursor() as cur,
        cur.copy(
            "COPY grid_cell_lod (band, cell_id, level, geom, n_vertices) FROM STDIN (FORMAT csv)"
        ) as copy,
    ):
        copy.write(buf.getvalue())


def lod_version(conn: Connection) -> str | None:
    """The id of the current LOD build (changes whenever the geometry may have changed)."""
    return conn.execute(
        text("SELECT value FROM grid_meta WHERE key = :k"), {"k": LOD_VERSION_KEY}
    ).scalar()


_VIEW_SQL = text(
    """
    WITH v AS (
        SELECT c.code, c.name, c.level, 'cell' AS role, l.geom, l.n_vertices AS nv, 0 AS ord
        FROM grid_cell_lod l
        JOIN grid_cell c ON c.id = l.cell_id
        WHERE l.band = CAST(:band AS smallint) AND l.level = CAST(:level AS smallint)
          AND l.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)
          AND c.path <@ CAST(:scope AS ltree)
          AND (:inside = '' OR c.path <@ CAST(nullif(:inside, '') AS ltree))
        UNION ALL
        -- Context: outside the selection, the natural level of the zoom.
        SELECT c.code, c.name, c.level, 'context', l.geom, l.n_vertices, 0
        FROM grid_cell_lod l
        JOIN grid_cell c ON c.id = l.cell_id
        WHERE :inside <> '' AND l.band = CAST(:ctx_band AS smallint)
          AND l.level = CAST(:ctx_level AS smallint)
          AND l.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)
          AND c.path <@ CAST(:scope AS ltree)
          AND NOT c.path <@ CAST(nullif(:inside, '') AS ltree)
          AND NOT c.path @> CAST(nullif(:inside, '') AS ltree)
        UNION ALL
        SELECT s.code, s.name, s.level, 'selected',
               ST_Multi(ST_SnapToGrid(ST_SimplifyPreserveTopology(s.geom, :tol), :quantum)),
               ST_NPoints(s.geom), 1
        FROM grid_cell s
        WHERE s.code = :sel AND s.path <@ CAST(:scope AS ltree) AND s.level < :level
    )
    SELECT (SELECT ST_AsGeobuf(f, 'geom')
            FROM (SELECT code, name, level, role, geom FROM v ORDER BY ord) AS f),
           count(*), coalesce(sum(nv), 0)
    FROM v
    """
)


def _selected(conn: Connection, scope_path: str, code: str | None) -> tuple[int, str] | None:
    if not code:
        return None
    row = conn.execute(
        text(
            "SELECT level, path::text FROM grid_cell WHERE code = :c AND path <@ CAST(:s AS ltree)"
        ),
        {"c": code, "s": check_scope_path(scope_path)},
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def selected_level(conn: Connection, *, scope_path: str, code: str | None) -> int | None:
    """Level of the selected cell inside the scope (None if absent, unknown or out of scope)."""
    sel = _selected(conn, scope_path, code)
    return None if sel is None else sel[0]


def stored_band(zoom: int, level: int) -> int:
    """The stored band used to draw ``level`` at ``zoom`` (the nearest one held for it)."""
    band = min(max(int(zoom), min(BANDS)), max(BANDS))
    stored = bands_for_level(level)
    return min(stored, key=lambda b: (abs(b - band), -b))


def grid_view(
    conn: Connection,
    *,
    scope_path: str,
    zoom: int,
    bbox: tuple[float, float, float, float],
    selected: str | None = None,
) -> tuple[bytes, int, int, int]:
    """Geobuf FeatureCollection of the cells drawn for one viewport.

    Returns ``(payload, level, n_features, n_vertices)``. Features carry ``code``, ``name``,
    ``level`` and ``role``: "cell" (the drawn level), "context" (when the selection
    is drawn one level deeper than the zoom's natural level, the natural-level cells around it)
    or "selected" (the selected cell's outline, drawn last). Only cells inside ``scope_path``
    whose bounding box meets ``bbox`` are returned.
    """
    scope = check_scope_path(scope_path)
    sel = _selected(conn, scope, selected)
    level = display_level(zoom, sel[0] if sel else None)
    nat = natural_level(zoom)
    # Deeper than the zoom's natural level only inside the selection; context around it.
    inside = sel[1] if sel and level > nat else ""
    band = stored_band(zoom, level)
    spec = BANDS[band]
    minx, miny, maxx, maxy = bbox
    # A viewport is a small indexed query: parallel workers only add start-up latency, and a
    # cached generic plan (psycopg prepares after 5 runs) cannot see whether a selection is
    # given nor how selective the ltree and bbox filters are: measured 2× slower at p95.
    conn.exec_driver_sql(
        "SET LOCAL max_parallel_workers_per_gather = 0; "
        "SET LOCAL plan_cache_mode = force_custom_plan"
    )
    row = conn.execute(
        _VIEW_SQL,
        {
            "band": band,
            "level": level,
            "inside": inside,
            "ctx_band": stored_band(zoom, nat),
            "ctx_level": nat,
            "minx": minx,
            "miny": miny,
            "maxx": maxx,
            "maxy": maxy,
            "scope": scope,
            "sel": selected or "",
            "tol": spec.tolerance,
            "quantum": 10.0**-spec.digits,
        },
    ).one()
    return bytes(row[0]) if row[0] else EMPTY_GEOBUF, level, int(row[1]), int(row[2])
