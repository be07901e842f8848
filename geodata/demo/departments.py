"""Synthetic demo departments (模拟数据): courts, procuratorates, petition offices, judicial
bureaus per county; a police station and a judicial office per township.

One ``INSERT ... SELECT`` from ``grid_cell`` (fast at any scale: ~270 rows at full Dali scale),
run by :func:`geodata.demo.load.seed_demo` after the cells are loaded. Each department:

* code ``<PREFIX>-<cell code>`` (``POL`` police, ``JUD`` judicial office, ``CRT`` court, ``PRO``
  procuratorate, ``PET`` petition office, ``JUB`` judicial bureau);
* name ``<cell name><unit>（模拟）`` — the suffix is the synthetic label users see;
* jurisdiction cell = the county / township; service area = that cell's geometry;
* location = the label point of the n-th micro-grid (by code) of the cell, n differing per
  kind so units of one cell do not sit on one spot (county units land in the county's first
  township, like a county seat); the cell's own point-on-surface when it has too few;
* categories by kind (:data:`DEMO_PLAN`), a synthetic 0872 (Dali) phone number.
"""

from __future__ import annotations

from sqlalchemy import text

__all__ = ["DEMO_PLAN", "seed_demo_departments"]

#: (cell level, kind, code prefix, unit name, location slot, categories).
DEMO_PLAN: tuple[tuple[int, str, str, str, int, tuple[str, ...]], ...] = (
    (3, "police", "POL", "派出所", 0, ("public_security", "social_risk", "dispute")),
    (3, "judicial", "JUD", "司法所", 1, ("dispute", "livelihood")),
    (2, "court", "CRT", "人民法院", 2, ("dispute",)),
    (2, "procuratorate", "PRO", "人民检察院", 3, ("public_security", "social_risk")),
    (2, "petition", "PET", "信访局", 4, ("livelihood", "dispute", "social_risk", "environment")),
    (2, "judicial", "JUB", "司法局", 5, ("dispute", "livelihood")),
)

#: The synthetic label appended to every demo department's name.
SYNTHETIC_SUFFIX = "（模拟）"

_INSERT = text(
    """
    WITH plan AS (
        SELECT * FROM json_to_recordset(CAST(:plan AS json))
            AS p(level int, kind text, prefix text, unit text, slot int, categories text[])
    )
    INSERT INTO department (code, name, kind, cell_id, location, service_area, categories,
                            phone, active, synthetic)
    SELECT p.prefix || '-' || c.code, c.name || p.unit || :suffix, p.kind, c.id,
           coalesce(m.label_point, ST_PointOnSurface(c.geom)), ST_Multi(c.geom),
           CAST(p.categories AS varchar(32)[]),
           '0872-' || lpad((('x' || substr(md5(p.prefix || c.code), 1, 7))::bit(28)::int
                            % 10000000)::text, 7, '0'),
           true, true
    FROM plan AS p
    JOIN grid_cell AS c ON c.level = p.level
    LEFT JOIN LATERAL (
        SELECT g.label_point FROM grid_cell AS g
        WHERE g.path <@ c.path AND g.level = 6 AND g.label_point IS NOT NULL
        ORDER BY g.code OFFSET p.slot LIMIT 1
    ) AS m ON true
    ORDER BY c.code, p.slot
    ON CONFLICT (code) DO NOTHING
    """
)


def seed_demo_departments(conn) -> int:
    """Insert the demo departments of every county and township that lack them (idempotent:
    existing codes are kept); returns the number of rows inserted."""
    import json

    plan = [
        {"level": lv, "kind": k, "prefix": p, "unit": u, "slot": s, "categories": list(c)}
        for lv, k, p, u, s, c in DEMO_PLAN
    ]
    result = conn.execute(_INSERT, {"plan": json.dumps(plan), "suffix": SYNTHETIC_SUFFIX})
    return result.rowcount
