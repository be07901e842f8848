"""``gridcmd supervise``: the periodic supervision job (督办), with no browser open.

Every ``--every`` seconds (default ``GRIDCMD_SUPERVISE_EVERY_S``) it puts overdue cases under
supervision (督办) and escalates the ones supervised for longer than ``--escalate-after``
hours (default ``GRIDCMD_ESCALATE_AFTER_H``) one level up; see :mod:`geodata.supervision`.
Run one per deployment (more are harmless: a database lock lets one work at a time), e.g. as
a systemd service or beside gunicorn; ``./run.sh demo`` starts it in the background.
A dropped database connection is reported on one line and retried at the next tick.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError

from gridcmd.cli.common import engine_for, err, fail, friendly, out, settings_of


@friendly
def supervise(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    every: Annotated[
        int | None, typer.Option(min=5, max=3600, help="Seconds between passes.")
    ] = None,
    escalate_after: Annotated[
        float | None,
        typer.Option(min=0.01, max=720, help="Hours under supervision before escalating."),
    ] = None,
) -> None:
    """Supervise overdue cases (督办) and escalate unresolved ones, periodically."""
    from geodata.supervision import run_supervision

    s = settings_of(ctx)
    period = every or s.supervise_every_s
    after = dt.timedelta(hours=escalate_after or s.escalate_after_h)
    eng = engine_for(s)
    if not once:
        err.print(f"supervising every {period} s; escalating after {after} (Ctrl-C to stop)",
                  highlight=False)  # fmt: skip
    while True:
        try:
            with eng.begin() as conn:
                r = run_supervision(conn, now=dt.datetime.now(dt.UTC), escalate_after=after)
        except DBAPIError as exc:
            why = str(exc.orig or exc).splitlines()[0]
            if once:
                fail(f"database unavailable: {why}")
            err.print(f"database unavailable, retrying in {period} s: {why}", highlight=False)
        else:
            if once or r.supervised or r.escalated:
                stamp = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")
                msg = (
                    f"{stamp} supervised {len(r.supervised)}, escalated {len(r.escalated)}"
                    if r.ran
                    else f"{stamp} another process is running the job; skipped"
                )
                out.print(msg, highlight=False)
        if once:
            return
        time.sleep(period)
