"""``gridcmd audit``: the tamper-evident audit trail (the event history's hash chain)."""

from __future__ import annotations

import typer

from gridcmd.cli.common import engine_for, fail, friendly, out, settings_of

app = typer.Typer(help="The tamper-evident audit trail of event history.",
                  no_args_is_help=True)  # fmt: skip


@app.command("verify")
@friendly
def audit_verify(ctx: typer.Context) -> None:
    """Walk the event history's hash chain; exit 1 naming the first altered or missing row."""
    from geodata.audit import verify_chain

    eng = engine_for(settings_of(ctx))
    with eng.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        report = verify_chain(conn)
    if not report.ok:
        fail(report.message)
    out.print(report.message, highlight=False)
    if report.head_id is not None:
        out.print(f"head: row {report.head_id} {report.head_hash}", highlight=False)
