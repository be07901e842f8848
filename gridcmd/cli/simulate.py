"""``gridcmd simulate``: the field simulator's command line (the simulator itself is
:mod:`gridcmd.simulate`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gridcmd.cli.common import engine_for, err, fail, friendly, out, settings_of


@friendly
def simulate(
    ctx: typer.Context,
    workers: Annotated[int, typer.Option(min=1, max=100_000, help="On-duty workers.")] = 100,
    rate: Annotated[
        float, typer.Option(min=0.1, max=60, help="Fixes per worker per minute (≤ 60).")
    ] = 6.0,
    duration: Annotated[float, typer.Option(min=1, help="Seconds to run (Ctrl-C stops).")] = 60,
    base_url: Annotated[str, typer.Option(help="The server.")] = "http://127.0.0.1:8050",
    tokens: Annotated[
        str | None, typer.Option(help="Tokens file (default var/demo_tokens.json).")
    ] = None,
    events_per_min: Annotated[
        float, typer.Option(min=0, help="Events of the whole fleet per minute.")
    ] = 6.0,
    photos_every: Annotated[int, typer.Option(min=0, help="A photo every K events (0: none).")] = 5,
    seed: Annotated[int | None, typer.Option(help="Random seed (reproducible walks).")] = None,
) -> None:
    """Drive the HTTP API like a fleet of phones: positions through the gateway token, events,
    photos and check-ins with worker tokens (synthetic data, tagged [模拟数据])."""
    from pathlib import Path

    from gridcmd.simulate import (
        SimConfig,
        load_tokens,
        preflight,
        run_simulation,
        summary_rows,
    )

    s = settings_of(ctx)
    path = Path(tokens) if tokens else s.var_dir / "demo_tokens.json"
    if not path.exists():
        fail(f"no tokens file {path}: run `gridcmd seed demo` or pass --tokens FILE")
    cfg = SimConfig(workers=workers, rate=rate, duration=duration, base_url=base_url,
                    tokens=path, events_per_min=events_per_min, photos_every=photos_every,
                    seed=seed)  # fmt: skip
    eng = engine_for(s)
    try:  # before any traffic: the server answers and knows the tokens
        tokens_data = load_tokens(path)
        preflight(base_url, tokens_data)
    except ValueError as exc:
        fail(str(exc))
    err.print(f"simulating {workers:,} workers at {rate:g} fixes/min against {base_url} "
              f"for {duration:g} s (Ctrl-C to stop)", highlight=False)  # fmt: skip

    shown = [-1]

    def progress(elapsed, st) -> None:
        if int(elapsed) // 10 > shown[0]:
            shown[0] = int(elapsed) // 10
            err.print(f"  {elapsed:5.0f} s  fixes {st.fixes_accepted:,}/{st.fixes_sent:,}  "
                      f"events {st.created['events']:,}", highlight=False)  # fmt: skip

    stats = run_simulation(cfg, eng, tokens_data, progress=progress)
    t = Table(title="simulation summary")
    t.add_column("measure")
    t.add_column("value")
    for k, v in summary_rows(stats):
        t.add_row(k, v)
    out.print(t)
