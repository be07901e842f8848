"""The camera inventory (视频资源): CSV import and scoped queries.

A camera is a point (EPSG:4326, lon/lat degrees) attributed to the L6 micro-grid containing it,
with a stream URL and its kind (``hls`` | ``mp4`` | ``rtsp`` | ``web``). Every query takes the
caller's *scope path* (ltree of cell codes) and only sees cameras whose cell is in that subtree,
so a forgotten filter in a caller cannot leak cameras outside its jurisdiction.

CSV format (UTF-8, with or without BOM, header required)::

    code,name,lon,lat,stream_url[,crs][,kind]

``crs`` is ``wgs84`` (default), ``gcj02`` or ``bd09``; coordinates are converted to WGS-84 with
:func:`geodata.crs.to_wgs84`. ``kind`` defaults to what the URL says (``.m3u8`` → hls, ``.mp4``
→ mp4, ``rtsp://`` → rtsp, else web). Only ``http``, ``https`` and ``rtsp`` URLs with a host are
accepted (no ``javascript:``/``data:``/``file:``), and no credentials in the URL (it is shown to
every viewer). Import is all-or-nothing by default and upserts by ``code``.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geodata.attribution import CoordinateError, attribute_points, validate_lonlat
from geodata.cells import check_scope_path, view_params
from geodata.crs import CRS_NAMES, to_wgs84
from gridcmd.vocab import STREAM_KINDS

__all__ = [
    "ALLOWED_SCHEMES",
    "MAX_CODE",
    "MAX_NAME",
    "MAX_URL",
    "REQUIRED_COLUMNS",
    "CameraRow",
    "ImportReport",
    "RowError",
    "camera_by_id",
    "cameras_in_view",
    "count_cameras",
    "import_cameras_csv",
    "infer_kind",
    "parse_cameras_csv",
]

REQUIRED_COLUMNS = ("code", "name", "lon", "lat", "stream_url")
OPTIONAL_COLUMNS = ("crs", "kind")
ALLOWED_SCHEMES = ("http", "https", "rtsp")
MAX_CODE = 64
MAX_NAME = 120
MAX_URL = 2048
#: Codes: letters, digits and ``_ . : -`` (e.g. 20-digit GB/T 28181 device ids).
_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]*")
#: C0/C1 control characters (and DEL): never part of a name or a URL.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class RowError:
    """A problem in the file: ``line`` is the 1-based line number (1 = the header)."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class CameraRow:
    """A validated CSV row; ``lon``/``lat`` are WGS-84 after CRS conversion."""

    line: int
    code: str
    name: str
    lon: float
    lat: float
    stream_url: str
    kind: str
    cell_code: str | None = None


@dataclass
class ImportReport:
    """The outcome of an import. ``written`` is False when errors prevented any write."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    written: bool = False
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def infer_kind(url: str) -> str:
    """The stream kind a URL implies: ``rtsp://`` → rtsp, path ``.m3u8`` → hls, ``.mp4`` →
    mp4, anything else → web (a page to open in a new tab)."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() == "rtsp":
        return "rtsp"
    path = parts.path.lower()
    if path.endswith(".m3u8"):
        return "hls"
    if path.endswith(".mp4"):
        return "mp4"
    return "web"


def _check_url(url: str) -> str | None:
    """Why ``url`` is not an acceptable stream URL, or None."""
    if not url:
        return "stream_url is empty"
    if len(url) > MAX_URL:
        return f"stream_url is longer than {MAX_URL} characters"
    if _CONTROL_RE.search(url) or any(ch.isspace() for ch in url):
        return "stream_url contains spaces or control characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "stream_url is not a valid URL"
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = (scheme + ":") if scheme else "none"
        return f"unsafe or unsupported URL scheme {shown!s} (allowed: http, https, rtsp)"
    if not host:
        return "stream_url has no host"
    if parts.username is not None or parts.password is not None:
        return "stream_url contains credentials (user:password@), which every viewer would see"
    return None


def _read_text(source: str | Path | IO[str] | IO[bytes]) -> str:
    """The file's text: bytes are decoded as UTF-8 (a BOM is dropped); ``UnicodeDecodeError``
    propagates for other encodings."""
    if isinstance(source, str | Path):
        data: str | bytes = Path(source).read_bytes()
    else:
        data = source.read()
    if isinstance(data, bytes):
        return data.decode("utf-8-sig")
    return data.removeprefix("\ufeff")


def _parse_float(raw: str, column: str) -> tuple[float | None, str | None]:
    if not raw:
        return None, f"{column} is missing"
    try:
        value = float(raw)
    except ValueError:
        return None, f"{column} {raw!r} is not a number"
    if not math.isfinite(value):
        return None, f"{column} {raw!r} is not a finite number"
    return value, None


def parse_cameras_csv(
    source: str | Path | IO[str] | IO[bytes],
) -> tuple[list[CameraRow], list[RowError]]:
    """Read and check a camera CSV without touching the database: the valid rows (WGS-84,
    kind resolved) and the errors with line numbers. Attribution to cells is done by
    :func:`import_cameras_csv`."""
    try:
        content = _read_text(source)
    except UnicodeDecodeError as exc:
        return [], [RowError(1, None, f"the file is not UTF-8 ({exc.reason} at byte {exc.start})")]
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], [RowError(1, None, "the file is empty (a header line is required)")]
    except csv.Error as exc:
        return [], [RowError(1, None, f"malformed CSV: {exc}")]
    columns = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        hint = " (columns must be separated by commas)" if len(header) == 1 else ""
        return [], [
            RowError(
                1,
                None,
                "the header must name the columns "
                f"{', '.join(REQUIRED_COLUMNS)} (optional: {', '.join(OPTIONAL_COLUMNS)}); "
                f"missing: {', '.join(missing)}{hint}",
            )
        ]
    dupes = sorted({c for c in columns if c and columns.count(c) > 1})
    if dupes:
        return [], [RowError(1, None, f"duplicate column(s) in the header: {', '.join(dupes)}")]
    index = {c: i for i, c in enumerate(columns)}

    rows: list[CameraRow] = []
    errors: list[RowError] = []
    first_line: dict[str, int] = {}
    line = reader.line_num  # physical line where the next record starts, minus one
    while True:
        start = line + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(start, None, f"malformed CSV: {exc}"))
            break
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue  # blank line
        if len(record) > len(columns):
            msg = f"{len(record)} fields but the header has {len(columns)}"
            errors.append(RowError(start, None, msg))
            continue

        def get(col: str, rec: list[str] = record) -> str:
            i = index.get(col)
            return rec[i].strip() if i is not None and i < len(rec) else ""

        row_errors: list[RowError] = []

        def bad(col: str | None, msg: str, at: int = start, sink: list = row_errors) -> None:
            sink.append(RowError(at, col, msg))

        code = get("code")
        if not code:
            bad("code", "code is missing")
        elif len(code) > MAX_CODE:
            bad("code", f"code is longer than {MAX_CODE} characters")
        elif not _CODE_RE.fullmatch(code):
            bad("code", f"code {code!r} may only contain letters, digits and _ . : -")
        elif code in first_line:
            bad("code", f"duplicate code {code!r} (first on line {first_line[code]})")
        name = get("name")
        if not name:
            bad("name", "name is missing")
        elif len(name) > MAX_NAME:
            bad("name", f"name is {len(name)} characters long (at most {MAX_NAME})")
        elif _CONTROL_RE.search(name):
            bad("name", "name contains control characters")
        crs = get("crs").lower() or "wgs84"
        if crs not in CRS_NAMES:
            bad("crs", f"unknown crs {crs!r} (expected one of {', '.join(CRS_NAMES)})")
        lon, err_lon = _parse_float(get("lon"), "lon")
        lat, err_lat = _parse_float(get("lat"), "lat")
        for col, err in (("lon", err_lon), ("lat", err_lat)):
            if err:
                bad(col, err)
        if lon is not None and lat is not None:
            try:
                validate_lonlat(lon, lat)
            except CoordinateError as exc:
                bad("lon", str(exc))
                lon = lat = None
        url = get("stream_url")
        url_error = _check_url(url)
        if url_error:
            bad("stream_url", url_error)
        kind = get("kind").lower()
        if kind and kind not in STREAM_KINDS:
            bad("kind", f"unknown kind {kind!r} (expected one of {', '.join(STREAM_KINDS)})")
        elif not url_error:
            kind = kind or infer_kind(url)
            is_rtsp = urlsplit(url).scheme.lower() == "rtsp"
            if is_rtsp != (kind == "rtsp"):
                bad("kind", f"kind {kind!r} does not match the URL scheme "
                            "(rtsp:// URLs are kind rtsp, and only they)")  # fmt: skip
        if code and code not in first_line:
            first_line[code] = start
        if row_errors:
            errors.extend(row_errors)
            continue
        assert lon is not None and lat is not None
        wlon, wlat = to_wgs84(lon, lat, crs)
        rows.append(CameraRow(start, code, name, wlon, wlat, url, kind))
    return rows, errors


_UPSERT = text(
    """
    WITH src AS (
        SELECT s.code, s.name, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) AS location,
               g.id AS cell_id, s.url AS stream_url, s.kind AS stream_kind
        FROM unnest(CAST(:codes AS text[]), CAST(:names AS text[]),
                    CAST(:lons AS float8[]), CAST(:lats AS float8[]),
                    CAST(:urls AS text[]), CAST(:kinds AS text[]), CAST(:cells AS text[]))
             AS s(code, name, lon, lat, url, kind, cell)
        JOIN grid_cell g ON g.code = s.cell
    )
    INSERT INTO camera AS c (code, name, location, cell_id, stream_url, stream_kind, synthetic)
    SELECT code, name, location, cell_id, stream_url, stream_kind, :synthetic FROM src
    ORDER BY code
    ON CONFLICT (code) DO UPDATE SET
        name = EXCLUDED.name, location = EXCLUDED.location, cell_id = EXCLUDED.cell_id,
        stream_url = EXCLUDED.stream_url, stream_kind = EXCLUDED.stream_kind,
        synthetic = EXCLUDED.synthetic, imported_at = now()
    -- unchanged rows are not rewritten (no live_change noise, imported_at kept)
    WHERE (c.name, c.cell_id, c.stream_url, c.stream_kind, c.synthetic)
          IS DISTINCT FROM
          (EXCLUDED.name, EXCLUDED.cell_id, EXCLUDED.stream_url, EXCLUDED.stream_kind,
           EXCLUDED.synthetic)
       OR NOT ST_Equals(c.location, EXCLUDED.location)
    RETURNING (xmax = 0) AS inserted
    """
)

_DELETE_OTHERS = text("DELETE FROM camera WHERE code <> ALL(CAST(:codes AS text[]))")


def import_cameras_csv(
    conn: Connection,
    source: str | Path | IO[str] | IO[bytes],
    *,
    replace: bool = False,
    synthetic: bool = False,
    partial: bool = False,
) -> ImportReport:
    """Validate a camera CSV (see the module doc) and upsert its rows by ``code``.

    Every row is checked — CSV syntax, columns, coordinates (and that they fall inside an L6
    micro-grid of the prefecture), URL scheme, name length, duplicate codes — and each problem
    is reported with its line number. By default the import is all-or-nothing: with any error
    nothing is written (``report.written`` is False). ``partial=True`` writes the valid rows
    anyway. ``replace=True`` also deletes cameras whose code is not in the file (the file
    becomes the whole inventory; not allowed with ``partial``). ``synthetic`` marks the rows
    as demo data. Runs in the caller's transaction (the caller commits).
    """
    if replace and partial:
        raise ValueError("replace and partial cannot be combined: a bad row would delete a camera")
    rows, errors = parse_cameras_csv(source)
    if rows:
        cells = attribute_points(conn, [r.lon for r in rows], [r.lat for r in rows])
        kept: list[CameraRow] = []
        for row, cell in zip(rows, cells, strict=True):
            if cell is None:
                msg = (f"({row.lon:.6f}, {row.lat:.6f}) is outside the prefecture "
                       "(no micro-grid contains it)")  # fmt: skip
                errors.append(RowError(row.line, "lon", msg))
            else:
                kept.append(CameraRow(**{**row.__dict__, "cell_code": cell}))
        rows = kept
    errors.sort(key=lambda e: e.line)
    report = ImportReport(rows=len(rows), errors=errors)
    if errors and not partial:
        return report
    if replace:
        report.deleted = conn.execute(_DELETE_OTHERS, {"codes": [r.code for r in rows]}).rowcount
    if rows:
        result = conn.execute(
            _UPSERT,
            {
                "codes": [r.code for r in rows],
                "names": [r.name for r in rows],
                "lons": [r.lon for r in rows],
                "lats": [r.lat for r in rows],
                "urls": [r.stream_url for r in rows],
                "kinds": [r.kind for r in rows],
                "cells": [r.cell_code for r in rows],
                "synthetic": synthetic,
            },
        ).all()
        report.inserted = sum(1 for r in result if r.inserted)
        report.updated = len(result) - report.inserted
    report.unchanged = len(rows) - report.inserted - report.updated
    report.written = True
    return report


_IN_VIEW = text(
    """
    SELECT m.id, m.code, m.name, m.stream_kind AS kind, m.synthetic,
           ST_X(m.location) AS lon, ST_Y(m.location) AS lat, g.code AS cell_code
    FROM camera AS m
    JOIN grid_cell AS g ON g.id = m.cell_id
    WHERE g.path <@ CAST(:scope AS ltree)
      AND (CAST(:minx AS float8) IS NULL
           OR m.location && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))
    ORDER BY m.id
    LIMIT :limit
    """
)

_BY_ID = text(
    """
    SELECT m.id, m.code, m.name, m.stream_url, m.stream_kind AS kind, m.synthetic,
           m.imported_at, ST_X(m.location) AS lon, ST_Y(m.location) AS lat,
           g.code AS cell_code, g.name AS cell_name, g.level AS cell_level
    FROM camera AS m
    JOIN grid_cell AS g ON g.id = m.cell_id
    WHERE m.id = :id AND g.path <@ CAST(:scope AS ltree)
    """
)

_COUNT = text(
    """
    SELECT count(*) FROM camera AS m JOIN grid_cell AS g ON g.id = m.cell_id
    WHERE g.path <@ CAST(:scope AS ltree)
    """
)


def cameras_in_view(
    conn: Connection,
    scope_path: str,
    bbox: Sequence[float] | None = None,
    limit: int = 5000,
) -> list[dict[str, Any]]:
    """Cameras of the caller's jurisdiction (cell ``path <@ scope_path``) inside ``bbox``
    (``minx, miny, maxx, maxy`` lon/lat degrees; None: the whole jurisdiction), by id, at most
    ``limit``. Rows: ``{id, code, name, kind, synthetic, lon, lat, cell_code}`` (no URL)."""
    check_scope_path(scope_path)
    params = view_params(bbox, limit)
    rows = conn.execute(_IN_VIEW, {"scope": scope_path, **params}).mappings()
    return [dict(r) for r in rows]


def camera_by_id(conn: Connection, scope_path: str, camera_id: int) -> dict[str, Any] | None:
    """One camera with its stream URL and cell (``cell_code``, ``cell_name``,
    ``cell_level``), or None when the id is unknown *or* outside ``scope_path``."""
    check_scope_path(scope_path)
    if isinstance(camera_id, bool) or not isinstance(camera_id, int):
        raise ValueError(f"camera id must be an integer, not {camera_id!r}")
    if not 0 < camera_id < 2**63:
        return None
    row = conn.execute(_BY_ID, {"id": camera_id, "scope": scope_path}).mappings().first()
    return dict(row) if row else None


def count_cameras(conn: Connection, scope_path: str) -> int:
    """Number of cameras in the jurisdiction ``scope_path``."""
    check_scope_path(scope_path)
    return int(conn.execute(_COUNT, {"scope": scope_path}).scalar_one())
