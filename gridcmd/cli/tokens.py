"""``gridcmd token``: bearer tokens of the mobile API (a worker's phone, or a gateway)."""

from __future__ import annotations

from typing import Annotated

import typer

from gridcmd.cli.common import engine_for, err, fail, friendly, out, settings_of

app = typer.Typer(help="API tokens of grid workers (mobile app).", no_args_is_help=True)


@app.command("create")
@friendly
def token_create(
    ctx: typer.Context,
    worker: Annotated[
        str | None, typer.Option("--worker", help="The worker's employee number.")
    ] = None,
    gateway: Annotated[
        bool, typer.Option("--gateway", help="A gateway token (positions of many workers).")
    ] = False,
    scope: Annotated[
        str | None,
        typer.Option("--scope", help="With --gateway: code of the cell whose subtree it serves."),
    ] = None,
    label: Annotated[str, typer.Option(help="A note, e.g. the phone's name.")] = "",
) -> None:
    """Create a bearer token for a worker (--worker EMP_NO) or a gateway (--gateway --scope
    CELLCODE); the token is printed once (only its hash is kept)."""
    from geodata.tokens import (
        cell_id_for_code,
        create_gateway_token,
        create_token,
        worker_id_for_employee,
    )

    if gateway == (worker is not None):
        fail("give exactly one of --worker EMP_NO or --gateway --scope CELLCODE", code=2)
    if gateway and not scope:
        fail("--gateway needs --scope CELLCODE (e.g. 532900 for the whole prefecture)", code=2)
    if scope and not gateway:
        fail("--scope is only for --gateway", code=2)
    eng = engine_for(settings_of(ctx))
    with eng.begin() as conn:
        if gateway:
            cell_id = cell_id_for_code(conn, scope)
            if cell_id is None:
                fail(f"no cell with code {scope!r}")
            token_id, token = create_gateway_token(conn, cell_id, label)
            who = f"gateway of {scope}"
        else:
            worker_id = worker_id_for_employee(conn, worker)
            if worker_id is None:
                fail(f"no worker with employee number {worker!r}")
            token_id, token = create_token(conn, worker_id, label)
            who = worker
    err.print(f"token {token_id} for {who} (shown once; store it now):", highlight=False)
    out.print(token, highlight=False, soft_wrap=True)


@app.command("revoke")
@friendly
def token_revoke(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(help="The token's id (printed at creation).")],
) -> None:
    """Revoke a token by id."""
    from geodata.tokens import revoke_token

    eng = engine_for(settings_of(ctx))
    with eng.begin() as conn:
        if not revoke_token(conn, token_id):
            fail(f"no active token with id {token_id}")
    out.print(f"token {token_id} revoked")
