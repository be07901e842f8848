"""The OS user the server runs as. PostgreSQL refuses to run as root: as root, the server runs
as the owner of an existing cluster, else as ``postgres``, else as a ``gridcmd`` system user
created on demand; as anyone else, as oneself (``None``)."""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridcmd.pgserver.errors import PgServerError
from gridcmd.pgserver.layout import Layout

__all__ = ["ServerUser", "chown", "run_as", "server_uid", "server_user", "user_can_use"]

log = logging.getLogger(__name__)

_FALLBACK_USER = "gridcmd"


@dataclass(frozen=True)
class ServerUser:
    """The unprivileged account the server runs as when we are root."""

    name: str
    uid: int
    gid: int
    home: str

    @classmethod
    def from_pw(cls, pw: pwd.struct_passwd) -> ServerUser:
        return cls(pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir)


def server_user(layout: Layout, *, create: bool) -> ServerUser | None:
    """The OS user to run PostgreSQL as; ``None`` means the current user (not root)."""
    if os.geteuid() != 0:
        return None
    if layout.initialised:
        uid = layout.data.stat().st_uid
        if uid == 0:
            raise PgServerError(
                f"{layout.data} belongs to root; PostgreSQL cannot run as root. "
                f"Remove {layout.home} to re-create the private instance."
            )
        try:
            return ServerUser.from_pw(pwd.getpwuid(uid))
        except KeyError as exc:
            raise PgServerError(
                f"{layout.data} belongs to uid {uid}, which has no account; "
                f"remove {layout.home} to re-create the private instance"
            ) from exc
    for name in ("postgres", _FALLBACK_USER):
        with contextlib.suppress(KeyError):
            return ServerUser.from_pw(pwd.getpwnam(name))
    if not create:
        return None
    cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    try:
        subprocess.run(
            [*cmd, _FALLBACK_USER], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        err = getattr(exc, "stderr", "") or str(exc)
        raise PgServerError(
            f"Running as root and no `postgres` user exists; creating the system user "
            f"`{_FALLBACK_USER}` failed (PostgreSQL refuses to run as root)",
            err,
        ) from exc
    log.warning("Created system user %r to run the private PostgreSQL instance", _FALLBACK_USER)
    return ServerUser.from_pw(pwd.getpwnam(_FALLBACK_USER))


def server_uid(user: ServerUser | None) -> int:
    """The uid the server runs as."""
    return user.uid if user else os.geteuid()


def chown(path: Path, user: ServerUser | None) -> None:
    """Give *path* to the server user (nothing to do when that is ourselves)."""
    if user is not None:
        os.chown(path, user.uid, user.gid)


def _clean_env(user: ServerUser | None) -> dict[str, str]:
    """Our environment minus libpq/PG* variables (they would redirect pg_ctl/postgres)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_MESSAGES"] = "C"
    if user is not None:
        env.update(HOME=user.home or "/", USER=user.name, LOGNAME=user.name)
    return env


def run_as(
    cmd: Sequence[str | Path], user: ServerUser | None, *, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run *cmd* as *user* (or as ourselves); raises ``CalledProcessError`` etc."""
    kwargs: dict[str, Any] = {}
    if user is not None:
        kwargs.update(
            user=user.uid, group=user.gid, extra_groups=os.getgrouplist(user.name, user.gid)
        )
    return subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
        env=_clean_env(user),
        check=True,
        stdin=subprocess.DEVNULL,
        **kwargs,
    )


def user_can_use(user: ServerUser, directory: Path) -> bool:
    """Whether *user* can traverse to and write in *directory*."""
    try:
        run_as(["/bin/sh", "-c", 'test -x "$1" && test -w "$1"', "sh", directory], user, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return True
