"""Helpers shared by the benchmark modules: logging, Markdown, machine facts, the scratch
database, the demo seed, the marked sections of ``bench/RESULTS.md`` and the one-line
``bench: error: ...`` entry point.

The benchmark modules import these from here, not from ``bench.run``, so they form no import
cycle: ``bench.run --api`` uses ``bench.api``, which needs only this module.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


class BenchError(Exception):
    """A failure explained in one line (printed as ``bench: error: ...``)."""


# --------------------------------------------------------------------------- helpers

_T0 = time.perf_counter()


def log(msg: str) -> None:
    """A progress line on stderr (plain text: no spinner thread disturbing the timings)."""
    print(f"[{time.perf_counter() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")


def one_line(exc: BaseException) -> str:
    """The first line of an exception (the driver's message for SQLAlchemy errors)."""
    orig = getattr(exc, "orig", None)
    msg = str(orig if orig is not None else exc).strip()
    return msg.splitlines()[0] if msg else type(exc).__name__


def fmt(v: float, digits: int = 2) -> str:
    return f"{v:,.{digits}f}"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A Markdown table; ``align`` is one char per column (l/r), default left then right."""
    align = align or "l" + "r" * (len(headers) - 1)
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


# --------------------------------------------------------------------------- database


def server_url():
    """The server URL the app would use and where it came from (no password in the label)."""
    from geodata.db import DatabaseError, describe, normalise_url
    from gridcmd import pgserver
    from gridcmd.settings import Settings

    settings = Settings()
    try:
        if settings.database_url:
            url = normalise_url(settings.database_url)
            return url, f"DATABASE_URL ({describe(url)})"
        url = normalise_url(pgserver.up(settings.var_dir))
        return url, f"private instance ({describe(url)})"
    except DatabaseError as exc:
        raise BenchError(str(exc)) from None
    except pgserver.PgServerError as exc:
        raise BenchError(exc.message) from None


@contextmanager
def scratch_database(server) -> Iterator[Any]:
    """Create ``gridcmd_bench_<pid>`` on the server, yield its engine, drop it afterwards."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    from geodata.db import DatabaseError, check_connection, make_engine

    name = f"gridcmd_bench_{os.getpid()}"
    admin = make_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        check_connection(admin)  # one-line reason when unreachable / no PostGIS
    except DatabaseError as exc:
        admin.dispose()
        raise BenchError(str(exc)) from None
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as exc:
        admin.dispose()
        raise BenchError(f"cannot create database {name}: {one_line(exc)}") from None
    log(f"created database {name}")
    engine = make_engine(server.set(database=name))
    try:
        yield engine
    finally:
        engine.dispose()
        try:
            with admin.connect() as conn:
                try:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                except SQLAlchemyError:  # PostgreSQL < 13 has no WITH (FORCE)
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            log(f"dropped database {name}")
        except SQLAlchemyError as exc:
            log(f"WARNING: could not drop database {name}: {one_line(exc)}")
        admin.dispose()


def server_versions(engine) -> dict[str, str]:
    from sqlalchemy import text

    with engine.connect() as conn:
        return {
            "postgres": conn.execute(text("SHOW server_version")).scalar_one(),
            "postgis": conn.execute(text("SELECT postgis_lib_version()")).scalar_one(),
            "geos": conn.execute(text("SELECT postgis_geos_version()")).scalar_one(),
        }


# --------------------------------------------------------------------------- demo seed


@dataclass
class SeedResult:
    scale: float
    wall_s: float
    reported_s: float
    counts: dict[str, int]
    phases: list[tuple[str, float]] = field(default_factory=list)  # (message, seconds since t0)


def bench_seed(engine, scale: float) -> SeedResult:
    """Seed the demo at ``scale`` into ``engine`` (migrated, empty), timing each phase."""
    from geodata.demo.load import seed_demo

    phases: list[tuple[str, float]] = []
    t0 = time.perf_counter()

    def note(msg: str) -> None:
        phases.append((msg, time.perf_counter() - t0))
        log(f"  seed: {msg}")

    report = seed_demo(engine, scale=scale, progress=note)
    wall = time.perf_counter() - t0
    return SeedResult(scale, wall, report.seconds, dict(report.counts), phases)


def git_commit() -> str:
    """The checkout's short commit, with "+ uncommitted changes" when the tree is dirty."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                             capture_output=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, text=True,
                               capture_output=True).stdout.strip()  # fmt: skip
        return rev + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# --------------------------------------------------------------------------- RESULTS.md


_SECTION = re.compile(r"<!-- ([\w.]+):start -->.*?<!-- \1:end -->", re.S)


def write_marked_section(path: Path, section: str) -> None:
    """Replace ``section`` (first line ``<!-- name:start -->``, last ``<!-- name:end -->``) in
    ``path``, or append it; the file's other sections stay as they are."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    start = section.splitlines()[0]
    end = start.replace(":start", ":end")
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section + "\n"
    path.write_text(text, encoding="utf-8")


def keep_marked_sections(path: Path, report: str) -> str:
    """``report`` plus the marked sections (``<!-- name:start/end -->``, written by the other
    benchmarks: browser clicks, API, live traffic) of the existing file it does not hold."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    have = {m.group(1) for m in _SECTION.finditer(report)}
    kept = [m.group(0) for m in _SECTION.finditer(old) if m.group(1) not in have]
    return "\n\n".join([report.rstrip(), *kept])


def database_url(given: str | None, holding: str):
    """The benchmark's database: ``--database-url`` else ``DATABASE_URL`` (normalised URL);
    :class:`BenchError` naming what it must hold (``holding``) when neither is set."""
    from geodata.db import normalise_url
    from gridcmd.settings import Settings

    url = given or Settings().database_url
    if not url:
        raise BenchError(f"give --database-url or DATABASE_URL ({holding})")
    return normalise_url(url)


def cli_main(run_fn, argv: Sequence[str] | None, parse) -> int:
    """Run a benchmark's ``run_fn(args, argv)`` and print its summary; failures are one
    ``bench: error: ...`` line with exit 2 (shared by the benchmark modules)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    from sqlalchemy.exc import SQLAlchemyError

    try:
        print(run_fn(args, argv))
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(f"bench: error: database error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    return 0
