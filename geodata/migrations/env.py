"""Alembic environment: runs on the connection handed over by :mod:`geodata.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from geodata.db import normalise_url
from geodata.models import Base

config = context.config
target_metadata = Base.metadata


def _include_object(obj, name, type_, reflected, compare_to):
    # PostGIS and its extensions own tables of their own (spatial_ref_sys, ...).
    return not (type_ == "table" and reflected and compare_to is None)


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = normalise_url(config.get_main_option("sqlalchemy.url"))
    engine = engine_from_config(
        {"sqlalchemy.url": url.render_as_string(hide_password=False)},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        _run(conn)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include_object,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
