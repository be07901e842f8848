"""The grid-worker roster (布网、划格、定人、明责): list, add, edit, (de)activate and move workers
between cells with the assignment history kept, and record their training.

Every function takes the caller's scope (an ltree path) and checks that the target worker's
cell and the target cell lie in it (``path <@ scope``). A worker or cell that is unknown or
outside the scope is the same answer: ``None`` for reads, :class:`NotInScope` (a LookupError)
for writes, so a caller cannot probe another area. Writes also re-check the caller's
``roster`` permission (PermissionError) — the callbacks check it too; this is the second line.

Phone numbers never leave this package unmasked (``138****1234``). Every change writes one
``roster_change`` row to the append-only security log (who, what, which worker; never a phone
number). Writes run in a savepoint of the caller's transaction, so a failure half-way leaves
nothing behind; the caller commits.

The package's names below are its interface (``from geodata import roster``); the modules:
:mod:`~geodata.roster.checks` (permission, scope, input rules, errors, the log row),
:mod:`~geodata.roster.workers` (the list and a worker's assignment history),
:mod:`~geodata.roster.changes` (add, edit, (de)activate, move) and
:mod:`~geodata.roster.training` (training sessions). Coverage of the grids by the roster is
:mod:`geodata.coverage`.
"""

from __future__ import annotations

from geodata.roster.changes import (
    add_worker,
    deactivate_worker,
    edit_worker,
    move_worker,
    reactivate_worker,
)
from geodata.roster.checks import (
    NO_PERMISSION,
    NOT_IN_SCOPE,
    NOT_SAVED,
    NotInScope,
    NumberUnavailable,
    RosterError,
    log_roster,
    mask_phone,
)
from geodata.roster.training import record_training, training_summary, worker_trainings
from geodata.roster.workers import assignment_history, list_workers

__all__ = [
    "NOT_IN_SCOPE",
    "NOT_SAVED",
    "NO_PERMISSION",
    "NotInScope",
    "NumberUnavailable",
    "RosterError",
    "add_worker",
    "assignment_history",
    "deactivate_worker",
    "edit_worker",
    "list_workers",
    "log_roster",
    "mask_phone",
    "move_worker",
    "reactivate_worker",
    "record_training",
    "training_summary",
    "worker_trainings",
]
