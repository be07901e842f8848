"""The ``gridcmd`` command line: database, demo data, integrity checks and the dev server.

Every failure the user can cause (unreachable database, PostGIS missing, seeding a non-empty
database, bad arguments) ends with one ``error: ...`` line and a non-zero exit code, never a
traceback.

One module per command group (``db``, ``seed``, ``lod``, ``token`` → :mod:`.tokens`, ``user``
→ :mod:`.users`, ``camera`` → :mod:`.cameras`, ``audit``, ``import`` → :mod:`.imports`,
``export`` → :mod:`.exports`) or command (``check``/``attribute`` → :mod:`.checks`,
``simulate``, ``serve``, ``supervise``);
what they share is in :mod:`.common`. This module only assembles them: ``gridcmd =
"gridcmd.cli:main"``, and ``python -m gridcmd.cli`` runs :mod:`.__main__`.
"""

from __future__ import annotations

import sys

import typer

from gridcmd.cli import (
    audit,
    cameras,
    checks,
    db,
    exports,
    imports,
    lod,
    seed,
    serve,
    simulate,
    supervise,
    tokens,
    users,
)
from gridcmd.settings import get_settings

__all__ = ["app", "main"]

app = typer.Typer(
    help="Grid Command: map-centred command dashboard for grid-based social governance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _invocation(ctx: typer.Context) -> None:
    # Every command reads its settings through ctx.obj (common.settings_of): this module's
    # get_settings, looked up at run time so that a test can replace it here. Only the
    # function is passed: `gridcmd db up --help` reads no settings.
    ctx.obj = get_settings


# Commands, then groups, each in the order `gridcmd --help` lists them.
app.command("check")(checks.check)
app.command("attribute")(checks.attribute)
app.command("simulate")(simulate.simulate)
app.command("serve")(serve.serve)
app.command("supervise")(supervise.supervise)
app.add_typer(db.app, name="db")
app.add_typer(seed.app, name="seed")
app.add_typer(lod.app, name="lod")
app.add_typer(tokens.app, name="token")
app.add_typer(users.app, name="user")
app.add_typer(cameras.app, name="camera")
app.add_typer(audit.app, name="audit")
app.add_typer(imports.app, name="import")
app.add_typer(exports.app, name="export")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)
