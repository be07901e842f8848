"""``gridcmd user``: dashboard accounts — add, list, disable, reset passwords, roles, the
second-factor policy per role (docs/security.md)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Annotated

import typer
from rich.table import Table

from gridcmd.cli.common import engine_for, err, fail, friendly, out, settings_of

app = typer.Typer(
    help="Dashboard accounts: add, list, disable, reset passwords, roles, TOTP policy.",
    no_args_is_help=True,
)


def _account_errors(fn: Callable) -> Callable:
    """AccountError (unknown user, weak password, bad role or cell ...) → one error line."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        from geodata.accounts import AccountError

        try:
            return fn(*args, **kwargs)
        except AccountError as exc:
            fail(str(exc))

    return wrapper


def _now():
    import datetime as dt

    return dt.datetime.now(dt.UTC)


@app.command("add")
@friendly
@_account_errors
def user_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Login name (no spaces).")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="admin, commander, dispatcher, supervisor, auditor, grid_worker, department.",
        ),
    ],
    cell: Annotated[
        str | None,
        typer.Option(
            "--cell",
            help="Code of the jurisdiction cell, e.g. 532901 (department: its unit's cell).",
        ),
    ] = None,
    display_name: Annotated[str, typer.Option("--display-name", help="Shown in the UI.")] = "",
    worker: Annotated[
        str | None, typer.Option("--worker", help="grid_worker only: the worker's employee number.")
    ] = None,
    department: Annotated[
        str | None,
        typer.Option("--department", help="department only: the unit's code, e.g. POL-532901001."),
    ] = None,
    can_unmask: Annotated[
        bool, typer.Option("--can-unmask", help="May ask to see one resident's full ID/phone.")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    must_change: Annotated[
        bool, typer.Option("--must-change/--no-must-change", help="Force a change at first login.")
    ] = True,
) -> None:
    """Create an account (the password is prompted twice, or read with --password-stdin)."""
    from geodata.accounts import check_password_policy, create_account
    from geodata.security_log import log_security
    from geodata.tokens import worker_id_for_employee

    _check_department_option(role, department)
    if cell is None and department is None:
        fail("--cell is required: the code of the jurisdiction cell", code=2)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    problems = check_password_policy(password, username)
    if problems:
        fail(problems[0])
    eng = engine_for(settings_of(ctx))
    with eng.begin() as conn:
        worker_id = None
        if worker is not None:
            worker_id = worker_id_for_employee(conn, worker)
            if worker_id is None:
                fail(f"no worker with employee number {worker!r}")
        department_id, cell = _department_option(conn, department, cell)
        account_id = create_account(
            conn, username, display_name, role, cell, password, can_unmask=can_unmask,
            worker_id=worker_id, must_change_password=must_change, department_id=department_id,
        )  # fmt: skip
        log_security(conn, "account_change", account_id=account_id, username=username,
                     detail=f"created by CLI: role {role} cell {cell}")  # fmt: skip
    out.print(f"account {username} ({role} of {cell}) created", highlight=False)


def _check_department_option(role: str, department: str | None) -> None:
    """``--role department`` needs ``--department CODE``; no other role takes one (exit 2)."""
    if role == "department" and not department:
        fail("--role department needs --department CODE (the unit's code, e.g. POL-532901001)",
             code=2)  # fmt: skip
    if role != "department" and department:
        fail("--department is only for --role department", code=2)


def _department_option(conn, department: str | None, cell: str | None):
    """(department id, jurisdiction cell code) for ``--department CODE``: the unit's cell is
    the account's jurisdiction (``--cell`` may repeat it). Without a department: (None,
    ``cell``)."""
    from geodata.departments import department_for_code

    if not department:
        return None, cell
    dep = department_for_code(conn, department)
    if dep is None:
        fail(f"no department with code {department!r}")
    if cell is not None and cell != dep["cell_code"]:
        fail(f"a department account's jurisdiction is its unit's cell {dep['cell_code']}, "
             f"not {cell}")  # fmt: skip
    return dep["id"], dep["cell_code"]


@app.command("list")
@friendly
def user_list(
    ctx: typer.Context,
    cell: Annotated[
        str | None, typer.Option("--cell", help="Only accounts within this cell's subtree.")
    ] = None,
) -> None:
    """List accounts (optionally those whose jurisdiction lies within --cell)."""
    from geodata.accounts import list_accounts
    from geodata.tokens import cell_id_for_code

    eng = engine_for(settings_of(ctx))
    with eng.connect() as conn:
        if cell is not None and cell_id_for_code(conn, cell) is None:
            fail(f"no cell with code {cell!r}")
        rows = list_accounts(conn, within=cell)
    t = Table(title=f"{len(rows)} accounts")
    t.add_column("username", no_wrap=True)
    for col in ("name", "role", "cell", "state", "flags"):
        t.add_column(col)
    for r in rows:
        state = "disabled" if not r.active else ("locked" if r.locked else "active")
        flags = ", ".join(
            f for f, on in (("synthetic", r.synthetic), ("must change password",
                            r.must_change_password), ("totp", r.totp)) if on
        )  # fmt: skip
        t.add_row(r.username, r.display_name, r.role, r.code, state, flags)
    out.print(t)


@app.command("disable")
@friendly
@_account_errors
def user_disable(ctx: typer.Context, username: Annotated[str, typer.Argument()]) -> None:
    """Disable an account and end its sessions."""
    from geodata.accounts import disable

    with engine_for(settings_of(ctx)).begin() as conn:
        disable(conn, username, now=_now())
    out.print(f"account {username} disabled; its sessions ended", highlight=False)


@app.command("reset-password")
@friendly
@_account_errors
def user_reset_password(ctx: typer.Context, username: Annotated[str, typer.Argument()]) -> None:
    """Set a one-time temporary password (printed once) that must be changed at next login."""
    from geodata.accounts import reset_password

    with engine_for(settings_of(ctx)).begin() as conn:
        temporary = reset_password(conn, username, now=_now())
    err.print(f"temporary password of {username} (shown once; must be changed at login):",
              highlight=False)  # fmt: skip
    out.print(temporary, highlight=False, soft_wrap=True)


@app.command("set-role")
@friendly
@_account_errors
def user_set_role(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option("--role", help="The new role.")],
    cell: Annotated[
        str | None, typer.Option("--cell", help="A new jurisdiction cell code (optional).")
    ] = None,
    department: Annotated[
        str | None,
        typer.Option("--department", help="department only: the unit's code, e.g. POL-532901001."),
    ] = None,
) -> None:
    """Change an account's role (and jurisdiction); its sessions end."""
    from geodata.accounts import set_role

    _check_department_option(role, department)
    with engine_for(settings_of(ctx)).begin() as conn:
        department_id, cell = _department_option(conn, department, cell)
        set_role(conn, username, role, jurisdiction_code=cell, now=_now(),
                 department_id=department_id)  # fmt: skip
    out.print(f"account {username}: role {role}" + (f", cell {cell}" if cell else ""),
              highlight=False)  # fmt: skip


@app.command("require-totp")
@friendly
@_account_errors
def user_require_totp(
    ctx: typer.Context,
    role: Annotated[str, typer.Argument(help="The role the policy applies to.")],
    state: Annotated[str, typer.Argument(help="on or off")],
) -> None:
    """Require (on) or stop requiring (off) a second factor (TOTP) for every account of ROLE."""
    from geodata.second_factor import set_totp_required

    if state not in ("on", "off"):
        fail("the state is on or off", code=2)
    with engine_for(settings_of(ctx)).begin() as conn:
        set_totp_required(conn, role, state == "on")
    required = "required" if state == "on" else "optional"
    out.print(f"two-factor authentication for {role}: {required}", highlight=False)
