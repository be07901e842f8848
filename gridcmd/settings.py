"""Settings, read once from the environment (and an optional `.env` file).

Every other module receives a :class:`Settings` instance; nothing else reads ``os.environ``.
See `.env.example` for the documented variables.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The checkout (or install prefix) the project runs from; `var/` lives under it.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Runtime configuration. Environment variables use the ``GRIDCMD_`` prefix,
    except ``DATABASE_URL`` which keeps its conventional name."""

    model_config = SettingsConfigDict(
        env_prefix="GRIDCMD_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="SQLAlchemy/libpq URL of a PostGIS database. Unset: the private instance.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr("dev-only-change-me"),
        description="Flask session signing key. Must be set in production.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8050, ge=1, le=65535)
    debug: bool = False
    var_dir: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Where the private PostgreSQL cluster, uploads and caches live.",
    )
    basemap_url: str | None = Field(
        default=None,
        description="Raster tile URL template ({z}/{x}/{y}); unset = offline, no basemap.",
    )
    basemap_attribution: str = ""
    mbtiles_path: Path | None = Field(
        default=None,
        description="Local MBTiles file served at /tiles/{z}/{x}/{y}.<ext> as an offline basemap.",
    )
    demo_seed: int = Field(default=532900, description="Seed of the deterministic demo data.")
    # -- field data (phones: reports, positions, photos)
    checkin_tolerance_m: float = Field(
        default=200.0, ge=0, le=10_000,
        description="A check-in this close (metres) to the assigned cell counts as inside.",
    )  # fmt: skip
    photo_max_bytes: int = Field(
        default=8_000_000, ge=10_000, le=50_000_000,
        description="Largest accepted photo upload (bytes).",
    )  # fmt: skip
    stale_after_s: int = Field(
        default=900, ge=30, le=86_400,
        description="An on-duty worker with no fix for longer than this is shown as stale.",
    )  # fmt: skip
    live_on_start: bool = Field(
        default=True,
        description="Show the live events and workers overlays when a dashboard opens.",
    )
    live_poll_ms: int = Field(
        default=1000, ge=250, le=30_000,
        description="How often an open dashboard asks for live changes (milliseconds).",
    )  # fmt: skip

    # -- accounts and sessions
    session_idle_min: int = Field(
        default=30, ge=1, le=24 * 60,
        description="A dashboard session ends after this many minutes without a request.",
    )  # fmt: skip
    session_max_h: float = Field(
        default=12, gt=0, le=24 * 7,
        description="A dashboard session ends this many hours after login, however active.",
    )  # fmt: skip
    trust_proxy: bool = Field(
        default=False,
        description="Behind one reverse proxy: trust X-Forwarded-For/-Proto (client IP, HTTPS).",
    )

    # -- case workflow (deadlines, supervision, duplicates)
    escalate_after_h: float = Field(
        default=4.0, gt=0, le=24 * 30,
        description="A supervised (督办) case still unresolved this many hours later is "
        "escalated to the parent level's commander (and again after as long).",
    )  # fmt: skip
    supervise_every_s: int = Field(
        default=60, ge=5, le=3600,
        description="How often `gridcmd supervise` looks for overdue cases (seconds).",
    )  # fmt: skip
    duplicate_radius_m: float = Field(
        default=300.0, gt=0, le=20_000,
        description="Open events of the same category this close (metres) are suggested as "
        "duplicates.",
    )  # fmt: skip
    duplicate_window_h: float = Field(
        default=72.0, gt=0, le=24 * 60,
        description="... and reported within this many hours of each other.",
    )  # fmt: skip

    media_origins: str = Field(
        default="",
        description="Camera stream servers (comma-separated origins, e.g. "
        "http://10.1.2.3:8080) the Content-Security-Policy allows for video; default none.",
    )
    max_body_bytes: int = Field(
        default=2_000_000, ge=10_000, le=50_000_000,
        description="Largest request body on the dashboard routes (413; /api/v1 has its own).",
    )  # fmt: skip

    @property
    def media_origin_list(self) -> list[str]:
        """:attr:`media_origins` as a list of validated origins (``scheme://host[:port]``)."""
        import re

        out = []
        for raw in self.media_origins.split(","):
            origin = raw.strip().rstrip("/")
            if not origin:
                continue
            if not re.fullmatch(r"(https?|wss?)://[A-Za-z0-9.\-\[\]:]+", origin):
                raise ValueError(f"GRIDCMD_MEDIA_ORIGINS: not an origin: {origin!r}")
            out.append(origin)
        return out

    @property
    def photo_dir(self) -> Path:
        """Where uploaded photos are stored (content-addressed by sha256)."""
        return self.var_dir / "photos"

    @field_validator("media_origins")
    @classmethod
    def _origins_are_origins(cls, v: str) -> str:
        _ = cls.model_construct(media_origins=v).media_origin_list  # raises on a bad entry
        return v

    @field_validator("database_url")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v or None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
