"""``gridcmd serve``: the development server (production: gunicorn, see the README)."""

from __future__ import annotations

from typing import Annotated

import typer

from gridcmd.cli.common import engine_for, fail, friendly, out, settings_of


@friendly
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default 8050).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Dash dev tools and reloader.")] = False,
) -> None:
    """Run the development server (use gunicorn in production; see the README)."""
    s = settings_of(ctx)
    h, p = host or s.host, port or s.port
    if (debug or s.debug) and h not in ("127.0.0.1", "localhost", "::1"):
        # Werkzeug's debugger runs arbitrary code for whoever reaches it: loopback only.
        fail(f"refusing debug mode on {h}: the debugger is for 127.0.0.1 only", code=2)
    engine = engine_for(s)
    from app import create_app

    dash_app = create_app(s, engine=engine)
    out.print(f"Grid Command on http://{h}:{p}/  (Ctrl+C to stop)")
    dash_app.run(host=h, port=p, debug=debug or s.debug, dev_tools_disable_version_check=True)
