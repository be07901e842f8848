"""The one exception of the private instance (:mod:`gridcmd.pgserver`)."""

from __future__ import annotations


class PgServerError(Exception):
    """A problem with the private instance.

    The first line of ``str(exc)`` is one human-readable sentence saying what is wrong and
    what to do; ``detail`` (appended after it, if any) is the tail of the relevant log.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail.strip()

    def __str__(self) -> str:
        if not self.detail:
            return self.message
        indented = "\n".join("    " + line for line in self.detail.splitlines())
        return f"{self.message}\n{indented}"
