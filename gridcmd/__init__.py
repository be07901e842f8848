"""Grid Command operations package: settings, the private PostGIS instance and the `gridcmd` CLI."""

__version__ = "0.1.0"
