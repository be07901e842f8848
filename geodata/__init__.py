"""The database tier: engine creation, models, migrations and every SQL statement.

Nothing in this package reads settings or the environment: callers pass a URL, an engine or a
connection.
"""
