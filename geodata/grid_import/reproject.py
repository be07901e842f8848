"""Any CRS to WGS-84 (EPSG:4326, lon/lat), with the mistakes Chinese survey files make.

* **The source CRS** is the file's own, or ``--crs`` (which overrides it, with a note); a file
  without one is refused unless ``--crs`` is given. ``--crs`` takes anything pyproj reads
  (``EPSG:4545``, WKT, a PROJ string) and the shorthands ``CGCS2000`` (EPSG:4490) and
  ``CGCS2000-GK`` (the CGCS2000 Gauss-Krüger zone named by the zone number the x coordinates
  carry: zones 13–23 are 6° zones, EPSG:4491–4501; zones 25–45 are 3° zones, EPSG:4513–4533).
* **Gauss-Krüger with or without the zone number.** A Transverse Mercator CRS whose false
  easting disagrees with the coordinates (x ≈ 35 500 000 under a CRS with false easting
  500 000, or the reverse: EPSG:4491–4533 include the zone, EPSG:4502–4512 and 4534–4554 do
  not) is corrected to the false easting the coordinates imply, when the zone number agrees
  with the central meridian (3° zone z: 3z°E; 6° zone z: (6z − 3)°E); otherwise an error.
* **Axis order**: pyproj with ``always_xy``, so x is always the easting/longitude as the file
  stores it. Coordinates that land outside the expected area (China by default: lon 73–136,
  lat 3–54) are diagnosed: swapped axes (the swapped coordinates would fit: ``--swap-xy``),
  projected metres under a geographic CRS, degrees under a projected one.
* **GCJ-02** (``--from-gcj02``, for boundaries digitised on AMap/Tencent tiles): every vertex
  goes through :func:`geodata.crs.gcj02_to_wgs84` after the CRS transform.

Z and M values are dropped first. Pure functions; geometries are shapely arrays (None kept).
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from geodata.attribution import CHINA_BOUNDS
from geodata.crs import gcj02_to_wgs84
from geodata.grid_import.problems import GridImportError

__all__ = ["EXPECTED_BOUNDS", "Reprojected", "outside_rows", "parse_crs", "to_wgs84"]

WGS84 = CRS.from_epsg(4326)
CGCS2000 = CRS.from_epsg(4490)
#: Where the imported cells are expected to lie (lon/lat degrees): China.
EXPECTED_BOUNDS = CHINA_BOUNDS
_GK_AUTO = "CGCS2000-GK"
_ZONE_FE = 1_000_000.0


class Reprojected:
    """The geometries in EPSG:4326, the CRS they came from and what was done (notes)."""

    def __init__(self, geoms: np.ndarray, source_crs: CRS, notes: list[str]):
        self.geoms = geoms
        self.source_crs = source_crs
        self.notes = notes


def parse_crs(value: str) -> CRS | str:
    """``--crs`` as a CRS (``CGCS2000-GK`` stays the string: it needs the coordinates)."""
    v = value.strip()
    if v.upper() == _GK_AUTO:
        return _GK_AUTO
    if v.upper() in ("CGCS2000", "CGCS 2000"):
        return CGCS2000
    if v.upper() in ("WGS84", "WGS-84"):
        return WGS84
    try:
        return CRS.from_user_input(v)
    except CRSError as exc:
        raise GridImportError(f"--crs: {value!r} is not a CRS pyproj knows ({exc})") from None


def crs_label(crs: CRS) -> str:
    """``EPSG:4545 (CGCS2000 / 3-degree Gauss-Kruger CM 108E)`` or the CRS's name."""
    code = crs.to_epsg(min_confidence=70)
    return f"EPSG:{code} ({crs.name})" if code else crs.name


def to_wgs84(
    geoms: np.ndarray,
    file_crs: CRS | None,
    *,
    crs: str | None = None,
    swap_xy: bool = False,
    from_gcj02: bool = False,
    bounds: tuple[float, float, float, float] = EXPECTED_BOUNDS,
) -> Reprojected:
    """``geoms`` (the file's CRS and axis order; None entries kept) → EPSG:4326 lon/lat.

    Raises :class:`GridImportError` when no CRS is known or when the coordinates as a whole
    do not land in ``bounds`` (with the likely reason). Rows that alone fall outside are the
    caller's to report (:func:`outside_rows`)."""
    notes: list[str] = []
    geoms = np.array(geoms, dtype=object)
    present = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
    if crs is not None:
        source = parse_crs(crs)
        if file_crs is not None and isinstance(source, CRS) and not source.equals(file_crs):
            notes.append(
                f"--crs {crs_label(source)} overrides the file's CRS {crs_label(file_crs)}"
            )
    elif file_crs is not None:
        source = file_crs
    else:
        raise GridImportError(
            "the file has no CRS (no .prj, no SRID); give --crs, e.g. --crs EPSG:4490 "
            "(CGCS2000 lon/lat) or --crs EPSG:4545 (CGCS2000 3-degree Gauss-Kruger CM 108E)"
        )
    geoms = np.where(present, shapely.force_2d(geoms), geoms)
    if swap_xy:
        geoms = _apply(geoms, present, lambda xy: xy[:, ::-1])
        notes.append("x and y swapped (--swap-xy)")
    xy = shapely.get_coordinates(geoms[present]) if present.any() else np.empty((0, 2))
    if not len(xy):
        return Reprojected(geoms, source if isinstance(source, CRS) else CGCS2000, notes)
    source = _resolve_zone(source, xy, notes)
    _check_units(source, xy)
    out = _transform(geoms, present, source)
    if from_gcj02:
        out = _apply(out, present, _gcj02_inverse)
        notes.append("GCJ-02 offset removed from every vertex (--from-gcj02)")
    _check_bounds(out, present, geoms, source, bounds, swapped=swap_xy)
    if not source.equals(WGS84):
        notes.append(f"CRS {crs_label(source)} → EPSG:4326 (WGS 84, lon/lat)")
    return Reprojected(out, source, notes)


def outside_rows(geoms: np.ndarray, bounds: tuple[float, float, float, float]) -> np.ndarray:
    """Indices of the geometries (EPSG:4326) not wholly inside ``bounds``."""
    box = shapely.box(*bounds)
    ok = np.array(
        [g is None or g.is_empty or shapely.covers(box, shapely.envelope(g)) for g in geoms],
        dtype=bool,
    )
    return np.flatnonzero(~ok)


def _apply(geoms: np.ndarray, present: np.ndarray, fn) -> np.ndarray:
    out = geoms.copy()
    if present.any():
        out[present] = shapely.transform(geoms[present], fn)
    return out


def _transform(geoms: np.ndarray, present: np.ndarray, source: CRS) -> np.ndarray:
    if source.equals(WGS84):
        return geoms
    tr = Transformer.from_crs(source, WGS84, always_xy=True)

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    # Coordinates the CRS cannot take come back infinite: diagnosed by _check_bounds.
    return _apply(geoms, present, fn)


def _gcj02_inverse(xy: np.ndarray) -> np.ndarray:
    pts = [gcj02_to_wgs84(float(x), float(y)) for x, y in xy]
    return np.array(pts, dtype=float).reshape(-1, 2)


def _tm_params(crs: CRS) -> tuple[float, float] | None:
    """(false easting, central meridian) of a Transverse Mercator CRS, else None."""
    op = crs.coordinate_operation if crs.is_projected else None
    if op is None or "transverse mercator" not in op.method_name.lower():
        return None
    params = {p.name.lower(): p.value for p in op.params}
    fe = params.get("false easting")
    cm = params.get("longitude of natural origin")
    return (fe, cm) if fe is not None and cm is not None else None


def _zone_width(zone: int) -> int | None:
    """Chinese GK zone numbers: 13–23 are 6° zones, 25–45 are 3° zones (they never overlap)."""
    if 13 <= zone <= 23:
        return 6
    if 25 <= zone <= 45:
        return 3
    return None


def _zone_cm(zone: int) -> float | None:
    width = _zone_width(zone)
    return None if width is None else (3.0 * zone if width == 3 else 6.0 * zone - 3)


def _resolve_zone(source: CRS | str, xy: np.ndarray, notes: list[str]) -> CRS:
    """The CRS whose false easting matches the coordinates (see the module doc)."""
    x_mid = float(np.median(xy[:, 0]))
    zone = int(x_mid // _ZONE_FE) if x_mid >= 10 * _ZONE_FE else None
    if source == _GK_AUTO:
        if zone is None or _zone_width(zone) is None:
            raise GridImportError(
                "--crs CGCS2000-GK needs x coordinates that carry the zone number (x ≈ "
                "35 500 000 for zone 35); without it give the zone's EPSG code, e.g. --crs "
                "EPSG:4545 (3-degree CM 108E; EPSG:4534–4554 are CM 75E–135E) or EPSG:4502–4512 "
                "(6-degree CM 75E–135E)"
            )
        code = 4513 + zone - 25 if _zone_width(zone) == 3 else 4491 + zone - 13
        crs = CRS.from_epsg(code)
        notes.append(f"Gauss-Kruger zone {zone} from the x coordinates: {crs_label(crs)}")
        return crs
    assert isinstance(source, CRS)
    tm = _tm_params(source)
    if tm is None:
        return source
    y_mid = float(np.median(xy[:, 1]))
    if y_mid >= 10 * _ZONE_FE or (2 * _ZONE_FE < x_mid < 10 * _ZONE_FE and y_mid < 2 * _ZONE_FE):
        # A northing never reaches 10 000 km nor carries a zone number, and an easting
        # without zone number stays within ~1 000 km of 500 000.
        raise GridImportError(
            f"x and y look swapped: x (median {x_mid:,.0f}) looks like a northing and y "
            f"(median {y_mid:,.0f}) like an easting in {crs_label(source)}; "
            + (
                "--swap-xy was given: remove it"
                if notes and "swap" in notes[-1]
                else "give --swap-xy"
            )
        )
    fe, cm = tm
    crs_zone = int(fe // _ZONE_FE) if fe >= 10 * _ZONE_FE else None
    if zone == crs_zone:
        return source
    if zone is not None:
        zcm = _zone_cm(zone)
        if zcm is None or abs(zcm - cm) > 1e-9:
            raise GridImportError(
                f"the x coordinates carry Gauss-Kruger zone number {zone}"
                + (f" (central meridian {zcm:g}°E)" if zcm is not None else "")
                + f", but the CRS {crs_label(source)} has central meridian {cm:g}°E; give the "
                "right CRS with --crs"
            )
        new_fe = zone * _ZONE_FE + 500_000.0
        why = f"the x coordinates carry zone number {zone}"
    else:
        new_fe = fe - crs_zone * _ZONE_FE
        why = f"the x coordinates carry no zone number (the CRS's false easting is {fe:,.0f})"
    fixed = _with_false_easting(source, new_fe, cm, zone if zone is not None else crs_zone)
    notes.append(f"{why}: using {crs_label(fixed)} instead of {crs_label(source)}")
    return fixed


def _with_false_easting(crs: CRS, fe: float, cm: float, zone: int | None) -> CRS:
    """``crs`` with false easting ``fe``: the EPSG CRS for CGCS2000 (``zone`` is the zone
    number of the coordinates or of the CRS, which says 3° or 6°), else the same definition
    with the one parameter changed."""
    width = _zone_width(zone) if zone is not None else None
    if width is not None and "2000" in (crs.datum.name if crs.datum else ""):
        zoned = fe >= 10 * _ZONE_FE
        if width == 3:
            code = 4513 + int(round(cm / 3)) - 25 if zoned else 4534 + int(round((cm - 75) / 3))
        else:
            code = (
                4491 + int(round((cm + 3) / 6)) - 13 if zoned else 4502 + int(round((cm - 75) / 6))
            )
        return CRS.from_epsg(code)
    doc = crs.to_json_dict()
    doc.pop("id", None)
    for p in doc["conversion"]["parameters"]:
        if p["name"].lower() == "false easting":
            p["value"] = fe
    return CRS.from_json_dict(doc)


def _check_units(source: CRS, xy: np.ndarray) -> None:
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    degrees_like = lo[0] >= -180 and hi[0] <= 180 and lo[1] >= -90 and hi[1] <= 90
    if source.is_geographic and not (
        lo[0] >= -360 and hi[0] <= 360 and abs(lo[1]) <= 360 and abs(hi[1]) <= 360
    ):
        raise GridImportError(
            f"the coordinates look projected (x up to {hi[0]:,.0f}, y up to {hi[1]:,.0f}), "
            f"but the CRS {crs_label(source)} is in degrees; give the file's projected CRS "
            "with --crs (e.g. --crs EPSG:4545, or --crs CGCS2000-GK when x carries the zone "
            "number)"
        )
    if source.is_projected and degrees_like and hi[0] - lo[0] < 20 and hi[1] - lo[1] < 20:
        raise GridImportError(
            f"the coordinates look like degrees (x {lo[0]:.4f}…{hi[0]:.4f}, y "
            f"{lo[1]:.4f}…{hi[1]:.4f}), but the CRS {crs_label(source)} is projected; give "
            "--crs EPSG:4490 (CGCS2000) or EPSG:4326 (WGS 84)"
        )


def _check_bounds(out, present, raw, source, bounds, *, swapped: bool) -> None:
    coords = shapely.get_coordinates(out[present])
    box = np.array(bounds)
    inside = (
        (coords[:, 0] >= box[0])
        & (coords[:, 0] <= box[2])
        & (coords[:, 1] >= box[1])
        & (coords[:, 1] <= box[3])
    )
    if inside.mean() >= 0.5:
        return  # single rows outside are row errors (outside_rows)
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    where = f"lon {bounds[0]:g}…{bounds[2]:g}, lat {bounds[1]:g}…{bounds[3]:g}"
    # Would the swapped coordinates fit? Then the axes are swapped.
    sample = shapely.get_coordinates(raw[present])[:, ::-1][:5000]
    try:
        tr = Transformer.from_crs(source, WGS84, always_xy=True)
        sx, sy = tr.transform(sample[:, 0], sample[:, 1])
        fits = np.mean((sx >= box[0]) & (sx <= box[2]) & (sy >= box[1]) & (sy <= box[3]))
    except Exception:  # noqa: BLE001 - a failed guess is just no hint
        fits = 0.0
    if fits >= 0.5:
        raise GridImportError(
            f"x and y look swapped: the coordinates land at lon {lo[0]:.4f}…{hi[0]:.4f}, lat "
            f"{lo[1]:.4f}…{hi[1]:.4f}, outside the expected area ({where}), and would fit "
            "with the axes swapped"
            + ("; --swap-xy was given: remove it" if swapped else "; give --swap-xy")
        )
    raise GridImportError(
        f"the coordinates land at lon {lo[0]:.4f}…{hi[0]:.4f}, lat {lo[1]:.4f}…{hi[1]:.4f} "
        f"in WGS 84, outside the expected area ({where}): is {crs_label(source)} the file's "
        "CRS? give the right one with --crs"
    )
