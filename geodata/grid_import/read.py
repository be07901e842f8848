"""Read a boundary file into attributes and geometries, as the file has them (its own CRS).

Formats (by the file's suffix):

* GeoJSON (``.geojson``, ``.json``): UTF-8 by definition; RFC 7946 makes it WGS-84, so GDAL
  reports EPSG:4326 unless a (legacy) ``crs`` member says otherwise.
* Shapefile, zipped (``.zip`` holding one or more ``.shp`` with their ``.dbf``/``.shx``/
  ``.prj``/``.cpg``; ``layer`` picks one by name) or plain (``.shp``). Attribute text is
  decoded with the encoding the ``.cpg`` names (GBK/936 → GB18030, its superset); without a
  ``.cpg``, UTF-8 is tried and, when that fails, GB18030 — Chinese survey software writes
  GBK ``.dbf`` files without saying so. ``encoding`` overrides all of this.
* GeoPackage (``.gpkg``): ``layer`` picks the layer when there are several.
* CSV (``.csv``) with a WKT column (``wkt_field``, or a column named WKT/geometry/geom/
  the_geom/shape/几何): UTF-8 (with or without BOM), else GB18030. A CSV has no CRS unless
  every WKT carries the same ``SRID=n;`` prefix.

Everything is read with pyogrio (GDAL) except the CSV, read with pandas so that one bad WKT
is a row error instead of a silently empty geometry.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from geodata.grid_import.problems import GridImportError, Problem

__all__ = ["FORMATS", "RawTable", "read_table", "encoding_from_cpg"]

#: Suffix → format name.
FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".zip": "zipped Shapefile",
    ".shp": "Shapefile",
    ".gpkg": "GeoPackage",
    ".csv": "CSV",
}
#: Names a CSV's WKT column is recognised by (case-insensitive).
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape", "几何", "边界")
#: Encodings that are all read as GB18030 (a superset of each).
_GB = {"gbk", "gb2312", "cp936", "936", "gb18030", "ms936", "euc-cn", "euc_cn"}
_SRID = re.compile(r"^\s*SRID=(\d+);", re.I)


@dataclass
class RawTable:
    """A file's records as read: ``attrs`` (one row per record, the file's field names and
    values), ``geoms`` (shapely geometries or None, in the file's CRS and axis order),
    ``crs`` (None when the file declares none), what was read and how (``source``,
    ``encoding``), and ``problems`` found while reading (a CSV's unparsable WKT)."""

    attrs: pd.DataFrame
    geoms: np.ndarray
    crs: CRS | None
    source: str
    encoding: str | None = None
    problems: list[Problem] = field(default_factory=list)
    geometry_field: str | None = None


def encoding_from_cpg(text: str) -> str:
    """The Python/GDAL encoding a Shapefile ``.cpg`` names (``GBK``, ``936``, ``ANSI 936``,
    ``65001``, ``UTF-8``...): the GB family reads as GB18030. ValueError when unknown."""
    value = text.strip().strip("\ufeff").strip()
    value = re.sub(r"^ANSI\s*", "", value, flags=re.I).strip()
    if value.isdigit():
        value = "UTF-8" if value == "65001" else f"cp{value}"
    if value.lower() in _GB:
        return "GB18030"
    try:
        return codecs.lookup(value).name.upper()
    except LookupError:
        raise ValueError(f"unknown encoding {text.strip()!r} in the .cpg file") from None


def read_table(
    path: str | Path,
    *,
    layer: str | None = None,
    encoding: str | None = None,
    wkt_field: str | None = None,
) -> RawTable:
    """Read ``path`` (see the module doc for formats); raises :class:`GridImportError` with
    one line saying why when the file cannot be read at all."""
    path = Path(path)
    if not path.exists():
        raise GridImportError(f"{path}: no such file")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise GridImportError(
            f"{path.name}: unknown format {path.suffix or '(no suffix)'}; expected one of "
            + ", ".join(sorted(set(FORMATS)))
        )
    if encoding is not None:
        try:
            encoding = encoding_from_cpg(encoding)
        except ValueError:
            raise GridImportError(f"--encoding: unknown encoding {encoding!r}") from None
    if fmt == "CSV":
        return _read_csv(path, encoding=encoding, wkt_field=wkt_field)
    if fmt == "zipped Shapefile":
        member, cpg = _zip_member(path, layer)
        return _read_shapefile(f"/vsizip/{path.resolve()}/{member}", fmt, cpg, encoding)
    if fmt == "Shapefile":
        cpg_path = path.with_suffix(".cpg")
        cpg = cpg_path.read_text(encoding="ascii", errors="replace") if cpg_path.exists() else None
        return _read_shapefile(str(path), fmt, cpg, encoding)
    layer = _pick_layer(path, layer) if fmt == "GeoPackage" else None
    table = _read_ogr_as(str(path), layer, encoding)
    table.source = f"{fmt} layer {layer!r}" if layer else fmt
    return table


def _read_ogr(path: str, layer: str | None, encoding: str | None) -> RawTable:
    try:
        meta, _fids, geoms, values = pyogrio.raw.read(path, layer=layer, encoding=encoding)
    except UnicodeDecodeError:
        raise
    except Exception as exc:  # noqa: BLE001 - GDAL's errors: one line for the user
        raise GridImportError(f"cannot read {Path(path).name}: {_first_line(exc)}") from None
    attrs = pd.DataFrame({name: col for name, col in zip(meta["fields"], values, strict=True)})
    geom_arr = (
        np.array([None if g is None else shapely.from_wkb(g) for g in geoms], dtype=object)
        if geoms is not None
        else np.full(len(attrs), None, dtype=object)
    )
    crs = CRS.from_user_input(meta["crs"]) if meta.get("crs") else None
    return RawTable(attrs, geom_arr, crs, "", encoding or meta.get("encoding"))


def _read_ogr_as(path: str, layer: str | None, encoding: str | None, why: str = "") -> RawTable:
    try:
        return _read_ogr(path, layer, encoding)
    except UnicodeDecodeError:
        raise GridImportError(
            f"the attribute text is not valid {encoding or 'UTF-8'}{why}; give the file's "
            "encoding with --encoding (e.g. GBK, UTF-8)"
        ) from None


def _read_shapefile(path: str, fmt: str, cpg: str | None, encoding: str | None) -> RawTable:
    if encoding is not None:
        table = _read_ogr_as(path, None, encoding)
        table.encoding = f"{encoding} (--encoding)"
    elif cpg is not None:
        try:
            enc = encoding_from_cpg(cpg)
        except ValueError as exc:
            raise GridImportError(f"{exc}; give --encoding") from None
        table = _read_ogr_as(path, None, enc, why=" (the .cpg says so)")
        table.encoding = f"{enc} (from the .cpg: {cpg.strip()})"
    else:
        try:
            table = _read_ogr(path, None, "UTF-8")
            table.encoding = "UTF-8 (no .cpg; the text is valid UTF-8)"
        except UnicodeDecodeError:
            try:
                table = _read_ogr(path, None, "GB18030")
            except UnicodeDecodeError:
                raise GridImportError(
                    "the attribute text is neither UTF-8 nor GB18030/GBK; give --encoding"
                ) from None
            table.encoding = "GB18030 (no .cpg; the text is not UTF-8)"
    table.source = fmt
    return table


def _zip_member(path: Path, layer: str | None) -> tuple[str, str | None]:
    """The ``.shp`` member of the ZIP to read (by ``layer`` when there are several) and the
    text of its ``.cpg`` (None when absent)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            shps = [n for n in names if n.lower().endswith(".shp") and "__MACOSX" not in n]
            if not shps:
                raise GridImportError(f"{path.name}: the ZIP holds no .shp file")
            if layer is not None:
                chosen = [n for n in shps if PurePosixPath(n).stem == layer]
                if not chosen:
                    raise GridImportError(
                        f"--layer {layer!r} is not in {path.name}; it holds: "
                        + ", ".join(PurePosixPath(n).stem for n in shps)
                    )
                shp = chosen[0]
            elif len(shps) > 1:
                raise GridImportError(
                    f"{path.name} holds {len(shps)} shapefiles; choose one with --layer: "
                    + ", ".join(PurePosixPath(n).stem for n in shps)
                )
            else:
                shp = shps[0]
            stem = shp[: -len(".shp")]
            cpg = next((n for n in names if n.lower() == (stem + ".cpg").lower()), None)
            cpg_text = zf.read(cpg).decode("ascii", errors="replace") if cpg else None
    except zipfile.BadZipFile:
        raise GridImportError(f"{path.name} is not a valid ZIP file") from None
    return shp, cpg_text


def _pick_layer(path: Path, layer: str | None) -> str:
    try:
        layers = [str(name) for name, _kind in pyogrio.list_layers(path)]
    except Exception as exc:  # noqa: BLE001
        raise GridImportError(f"cannot read {path.name}: {_first_line(exc)}") from None
    if layer is not None:
        if layer not in layers:
            raise GridImportError(
                f"--layer {layer!r} is not in {path.name}; its layers: {', '.join(layers)}"
            )
        return layer
    if len(layers) != 1:
        raise GridImportError(
            f"{path.name} has {len(layers)} layers; choose one with --layer: {', '.join(layers)}"
        )
    return layers[0]


def _read_csv(path: Path, *, encoding: str | None, wkt_field: str | None) -> RawTable:
    tried = [encoding] if encoding else ["utf-8-sig", "GB18030"]
    for enc in tried:
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc)
            break
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise GridImportError(f"cannot read {path.name}: {_first_line(exc)}") from None
    else:
        if encoding:
            raise GridImportError(f"the CSV is not valid {encoding}; give the right --encoding")
        raise GridImportError("the CSV is neither UTF-8 nor GB18030/GBK; give --encoding")
    used = "UTF-8" if enc == "utf-8-sig" else enc
    df.columns = [str(c).strip() for c in df.columns]
    col = _wkt_column(list(df.columns), wkt_field)
    texts = df.pop(col).astype(str).str.strip()
    srids = {m.group(1) for m in (_SRID.match(t) for t in texts) if m}
    texts = texts.str.replace(_SRID, "", regex=True)
    geoms = np.array(shapely.from_wkt(texts.replace("", None), on_invalid="ignore"), dtype=object)
    problems = [
        Problem("not valid WKT", row=i + 1, field=col)
        for i, (t, g) in enumerate(zip(texts, geoms, strict=True))
        if t and g is None
    ]
    crs = None
    if len(srids) == 1:
        crs = CRS.from_epsg(int(srids.pop()))
    elif len(srids) > 1:
        problems.append(
            Problem(f"the rows name different SRIDs ({', '.join(sorted(srids))})", field=col)
        )
    return RawTable(df, geoms, crs, "CSV", used, problems, geometry_field=col)


def _wkt_column(columns: list[str], wkt_field: str | None) -> str:
    if wkt_field is not None:
        if wkt_field not in columns:
            raise GridImportError(
                f"--wkt-field {wkt_field!r} is not a column; the columns: {', '.join(columns)}"
            )
        return wkt_field
    lower = {c.lower(): c for c in columns}
    for name in WKT_NAMES:
        if name in lower:
            return lower[name]
    raise GridImportError(
        "the CSV has no WKT column (WKT, geometry, geom, the_geom, shape, 几何); name it with "
        f"--wkt-field; the columns: {', '.join(columns)}"
    )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
