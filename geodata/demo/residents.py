"""Synthetic residents register (人口信息) for the demo: a SAMPLE of Dali's 3.6 M people.

Real Dali has about 3.6 million residents; the demo stores about :data:`SAMPLE_PER_MICROGRID`
people per micro-grid at full scale (:data:`FULL_SAMPLE` ≈ 437k rows), proportionally fewer at
smaller scales. Everything is derived from the seed and the cells already in the database
(ordered by code), so the same seed on the same grid gives the same rows.

* households of 2–6 people sharing a ``household_no`` (county code + 7-digit sequence) and an
  address in their L6 micro-grid, located at one random point inside that cell;
* names from Faker's zh_CN lists (surname by frequency; children take the father's surname);
* 18-character ID numbers per GB 11643: the county's 6-digit code, the birth date, a 3-digit
  sequence (odd for men, even for women) and the ISO 7064 MOD 11-2 check digit (``X`` = 10);
* mainland mobile numbers with prefixes in use (Faker's zh_CN list); children under 16 share
  the household head's number (as the contact number).

Every row is ``synthetic = true``. Loaded with one COPY.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from faker.providers.person.zh_CN import Provider as PersonProvider
from faker.providers.phone_number.zh_CN import Provider as PhoneProvider
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geodata.demo.tessellate import sample_seeds

__all__ = [
    "FULL_SAMPLE",
    "SAMPLE_PER_MICROGRID",
    "ResidentsReport",
    "build_residents",
    "check_digit",
    "delete_residents",
    "seed_residents",
]

#: Residents stored per micro-grid at full scale (a sample: real cells hold ~80 people).
SAMPLE_PER_MICROGRID = 10
#: Residents stored at scale 1.0 (10 × the 43,729 micro-grids of the full demo grid).
FULL_SAMPLE = 437_290
#: Household sizes and their shares (mean ≈ 3.3 people).
HOUSEHOLD_SIZES = np.array([2, 3, 4, 5, 6])
HOUSEHOLD_SHARES = np.array([0.30, 0.30, 0.22, 0.11, 0.07])
#: Ages are computed at this date (fixed, so a seed gives the same rows any day).
REFERENCE_DATE = dt.date(2026, 1, 1)
#: Under this age a resident has the household head's phone number.
OWN_PHONE_AGE = 16

#: GB 11643 weights of the first 17 digits (2^(17-i) mod 11) and the check characters.
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CHECK_CHARS = "10X98765432"


def check_digit(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need the first 17 digits of an ID number")
    total = sum(int(d) * int(w) for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def _check_digits(first17: np.ndarray) -> np.ndarray:
    """Vectorised :func:`check_digit` over an array of 17-character strings."""
    digits = np.frombuffer("".join(first17).encode("ascii"), dtype=np.uint8).reshape(-1, 17)
    total = (digits.astype(np.int64) - 48) @ _WEIGHTS
    return np.array(list(_CHECK_CHARS))[total % 11]


@dataclass(frozen=True)
class ResidentsReport:
    rows: int
    households: int
    seconds_generate: float
    seconds_load: float


def _cells(conn) -> pd.DataFrame:
    """The L6 cells with what a household needs: id, code, county code, population, geometry
    (WKB) and the address prefix (township + village names)."""
    rows = conn.execute(
        text(
            """
            SELECT c.id, c.code, subltree(c.path, 1, 2)::text AS county, c.population,
                   ST_AsBinary(c.geom) AS wkb, coalesce(t.name, '') || coalesce(v.name, '') AS place
            FROM grid_cell AS c
            LEFT JOIN grid_cell AS t ON t.path = subpath(c.path, 0, 3)
            LEFT JOIN grid_cell AS v ON v.path = subpath(c.path, 0, 4)
            WHERE c.level = 6
            ORDER BY c.code
            """
        )
    ).all()
    return pd.DataFrame(rows, columns=["id", "code", "county", "population", "wkb", "place"])


def build_residents(cells: pd.DataFrame, *, seed: int, scale: float) -> pd.DataFrame:
    """The residents of ``cells`` (see :func:`_cells`) as a DataFrame with the columns of the
    ``resident`` table plus ``x``/``y`` (WGS-84 lon/lat of the household)."""
    if cells.empty:
        return pd.DataFrame()
    rng = np.random.default_rng(seed + 11)
    total = max(2, round(FULL_SAMPLE * scale))

    # Households: sizes until the total is reached, each in a cell weighted by population.
    sizes = rng.choice(HOUSEHOLD_SIZES, size=total // 2 + 1, p=HOUSEHOLD_SHARES)
    n_h = int(np.searchsorted(np.cumsum(sizes), total)) + 1
    sizes = sizes[:n_h]
    w = cells.population.to_numpy(dtype=float) + 1
    h_cell = np.sort(rng.choice(len(cells), size=n_h, p=w / w.sum()))
    uniq, counts = np.unique(h_cell, return_counts=True)
    geoms = shapely.from_wkb(cells.wkb.to_numpy()[uniq])
    xy, _ = sample_seeds(geoms, counts, rng)  # grouped by cell, in the order of h_cell
    county = cells.county.to_numpy()[h_cell].astype(str)
    # Household number: county code + a 7-digit sequence within the county.
    seq = pd.Series(county).groupby(county).cumcount().to_numpy() + 1
    household_no = np.char.add(county, np.char.zfill(seq.astype(str), 7))
    house = rng.integers(1, 400, n_h)
    address = np.char.add(
        np.char.add(cells.place.to_numpy()[h_cell].astype(str), house.astype(str)), "号"
    )

    # Members: head, spouse, children; the sixth member of a household is a grandparent.
    hh = np.repeat(np.arange(n_h), sizes)
    start = np.repeat(np.cumsum(sizes) - sizes, sizes)
    role = np.arange(len(hh)) - start  # 0 head, 1 spouse, 2..4 children, 5 grandparent
    n = len(hh)
    head_age = rng.uniform(25, 80, n_h)
    head_male = rng.random(n_h) < 0.7
    age = np.empty(n)
    male = np.empty(n, dtype=bool)
    age[:] = head_age[hh] - rng.uniform(20, 36, n)  # children
    male[:] = rng.random(n) < 0.51
    is_head, is_spouse, is_elder = role == 0, role == 1, role == 5
    age[is_head] = head_age[hh[is_head]]
    male[is_head] = head_male[hh[is_head]]
    age[is_spouse] = head_age[hh[is_spouse]] + rng.normal(0, 3, is_spouse.sum())
    male[is_spouse] = ~head_male[hh[is_spouse]]
    age[is_elder] = head_age[hh[is_elder]] + rng.uniform(22, 30, is_elder.sum())
    # Keep ages plausible without piling people on one birth date (IDs must stay unique).
    young = age < 0
    age[young] = rng.uniform(0, head_age[hh[young]] - 18)
    old = age > 99
    age[old] = rng.uniform(75, 99, old.sum())
    days = (age * 365.25).astype(np.int64)
    birth = (np.datetime64(REFERENCE_DATE, "D") - days).astype("datetime64[D]")

    # Names: a surname by frequency per household line; children take the father's.
    surnames = list(PersonProvider.last_names)
    sw = np.array(list(PersonProvider.last_names.values()), dtype=float)
    s_head = rng.choice(len(surnames), n_h, p=sw / sw.sum())
    s_spouse = rng.choice(len(surnames), n_h, p=sw / sw.sum())
    father = np.where(head_male, s_head, s_spouse)
    sur_idx = father[hh].copy()
    sur_idx[is_head] = s_head[hh[is_head]]
    sur_idx[is_spouse] = s_spouse[hh[is_spouse]]
    sur_idx[is_elder] = s_head[hh[is_elder]]
    first_m = np.array(PersonProvider.first_names_male)
    first_f = np.array(PersonProvider.first_names_female)
    given = np.where(
        male, first_m[rng.integers(0, len(first_m), n)], first_f[rng.integers(0, len(first_f), n)]
    )
    second = np.where(
        male, first_m[rng.integers(0, len(first_m), n)], first_f[rng.integers(0, len(first_f), n)]
    )
    two = (rng.random(n) < 0.45) & (np.char.str_len(given) == 1) & (np.char.str_len(second) == 1)
    given = np.where(two, np.char.add(given, second), given)
    name = np.char.add(np.array(surnames)[sur_idx], given)

    # ID numbers: region (county) + birth date + sequence (odd: men) + check digit; unique.
    r_county = county[hh]
    ymd = pd.to_datetime(birth).strftime("%Y%m%d").to_numpy().astype(str)
    prefix = np.char.add(r_county, ymd)
    idn = _id_numbers(prefix, male, rng)

    # Phones: a prefix in use + 8 digits; children share the head's number.
    prefixes = np.array([str(p) for p in PhoneProvider.phonenumber_prefixes])
    phone = np.char.add(
        prefixes[rng.integers(0, len(prefixes), n)],
        np.char.zfill(rng.integers(0, 100_000_000, n).astype(str), 8),
    )
    head_row = start
    phone = np.where(age < OWN_PHONE_AGE, phone[head_row], phone)

    return pd.DataFrame(
        {
            "name": name,
            "id_number": idn,
            "phone": phone,
            "gender": np.where(male, "M", "F"),
            "birth_date": birth,
            "household_no": household_no[hh],
            "address": address[hh],
            "cell_id": cells.id.to_numpy()[h_cell][hh],
            "x": xy[hh, 0],
            "y": xy[hh, 1],
        }
    )


def _id_numbers(prefix: np.ndarray, male: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unique 18-character ID numbers for the 14-character ``prefix`` (region + birth date):
    a 3-digit sequence, odd for men and even for women, redrawn where two collide."""
    n = len(prefix)
    out = np.empty(n, dtype="<U18")
    todo = np.arange(n)
    for _ in range(50):
        seq = rng.integers(0, 500, len(todo)) * 2 + np.where(male[todo], 1, 0)
        first17 = np.char.add(prefix[todo], np.char.zfill(seq.astype(str), 3))
        out[todo] = np.char.add(first17, _check_digits(first17))
        _, first = np.unique(out, return_index=True)
        keep = np.zeros(n, dtype=bool)
        keep[first] = True
        todo = np.flatnonzero(~keep)
        if len(todo) == 0:
            return out
    raise RuntimeError("could not draw unique ID numbers")  # pragma: no cover


def delete_residents(engine: Engine) -> int:
    """Remove every synthetic resident (the demo sample); the number removed."""
    with engine.begin() as conn:
        return conn.execute(text("DELETE FROM resident WHERE synthetic")).rowcount


def seed_residents(
    engine: Engine, seed: int = 532900, scale: float = 1.0, *, replace: bool = True
) -> ResidentsReport:
    """Generate the synthetic residents of the micro-grids in the database and load them (one
    transaction, COPY). With ``replace`` (default) the earlier synthetic sample is removed
    first; real (non-synthetic) rows are never touched."""
    t0 = time.perf_counter()
    with engine.connect() as conn:
        cells = _cells(conn)
    df = build_residents(cells, seed=seed, scale=scale)
    t1 = time.perf_counter()
    if df.empty:
        return ResidentsReport(0, 0, t1 - t0, 0.0)
    out = pd.DataFrame(
        {
            "name": df.name,
            "id_number": df.id_number,
            "phone": df.phone,
            "gender": df.gender,
            "birth_date": pd.to_datetime(df.birth_date).dt.strftime("%Y-%m-%d"),
            "household_no": df.household_no,
            "address": df.address,
            "cell_id": df.cell_id,
            "location": "SRID=4326;POINT("
            + df.x.map("{:.7f}".format)
            + " "
            + df.y.map("{:.7f}".format)
            + ")",
            "synthetic": "t",
        }
    )
    buf = io.StringIO()
    out.to_csv(buf, index=False, header=False)
    with engine.begin() as conn:
        if replace:
            conn.execute(text("DELETE FROM resident WHERE synthetic"))
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cur,
            cur.copy(
                "COPY resident (name, id_number, phone, gender, birth_date, household_no, address,"
                " cell_id, location, synthetic) FROM STDIN (FORMAT csv)"
            ) as copy,
        ):
            copy.write(buf.getvalue())
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE resident"))
    return ResidentsReport(
        rows=len(out),
        households=int(df.household_no.nunique()),
        seconds_generate=t1 - t0,
        seconds_load=time.perf_counter() - t1,
    )
