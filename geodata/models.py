"""GeoAlchemy2 models of the schema (EPSG:4326 everywhere).

The Alembic migrations in ``geodata/migrations`` are the authority on the schema; these models
mirror them for ORM use and a test checks that the two agree.
"""

from __future__ import annotations

import datetime as dt
import uuid

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from gridcmd.vocab import (
    DEPARTMENT_KINDS,
    DIFFICULTIES,
    DUTY_STATUSES,
    EVENT_CATEGORIES,
    EVENT_STATUSES,
    LIVE_KINDS,
    POSITION_SOURCES,
    PRIORITIES,
    ROLES,
    SECURITY_KINDS,
    SEVERITIES,
    STREAM_KINDS,
)

SRID = 4326

def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


class Ltree(UserDefinedType):
    """PostgreSQL ``ltree`` (materialised path of codes, e.g. ``532900.532901.532901001``)."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "LTREE"


# Let reflection (Alembic autogenerate, inspectors) recognise the type.
ischema_names["ltree"] = Ltree


class Base(DeclarativeBase):
    pass


class GridCell(Base):
    """One cell of any of the six levels; children tile their parent."""

    __tablename__ = "grid_cell"
    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 6", name="ck_grid_cell_level"),
        CheckConstraint("(level = 1) = (parent_id IS NULL)", name="ck_grid_cell_parent"),
        CheckConstraint("nlevel(path) = level", name="ck_grid_cell_path_depth"),
        Index("ix_grid_cell_path", "path", postgresql_using="gist"),
        Index("ix_grid_cell_geom", "geom", postgresql_using="gist"),
        Index("ix_grid_cell_level", "level"),
        Index("ix_grid_cell_parent", "parent_id"),
        Index("ix_grid_cell_code_prefix", "code", postgresql_ops={"code": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    level: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("grid_cell.id", ondelete="RESTRICT")
    )
    path: Mapped[str] = mapped_column(Ltree)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False)
    label_point = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    area_km2: Mapped[float] = mapped_column(Float)
    population: Mapped[int] = mapped_column(Integer, default=0)
    households: Mapped[int] = mapped_column(Integer, default=0)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=True)


class GridWorker(Base):
    """A grid worker (网格员), assigned to an L5 grid or L6 micro-grid."""

    __tablename__ = "grid_worker"
    __table_args__ = (
        CheckConstraint(_in("duty_status", DUTY_STATUSES), name="ck_grid_worker_duty"),
        Index("ix_grid_worker_position", "position", postgresql_using="gist"),
        Index("ix_grid_worker_cell", "cell_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    employee_no: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str] = mapped_column(String(32))
    cell_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("grid_cell.id"))
    duty_status: Mapped[str] = mapped_column(String(16), default="off_duty")
    position = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    last_fix_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=True)


class WorkerPosition(Base):
    """GPS fix history; one row per (worker, fix time), so re-sent fixes are harmless."""

    __tablename__ = "worker_position"
    __table_args__ = (
        UniqueConstraint("worker_id", "fix_time", name="uq_worker_position_fix"),
        CheckConstraint(_in("source", POSITION_SOURCES), name="ck_worker_position_source"),
        CheckConstraint("accuracy_m IS NULL OR accuracy_m >= 0", name="ck_worker_position_acc"),
        Index("ix_worker_position_time", "fix_time"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("grid_worker.id", ondelete="CASCADE")
    )
    fix_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    geom = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False), nullable=False)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16), default="gps")
    received_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Event(Base):
    """A reported governance event (dispute, hazard, ...) and its workflow timestamps."""

    __tablename__ = "event"
    __table_args__ = (
        CheckConstraint(_in("category", EVENT_CATEGORIES), name="ck_event_category"),
        CheckConstraint(_in("severity", SEVERITIES), name="ck_event_severity"),
        CheckConstraint(_in("status", EVENT_STATUSES), name="ck_event_status"),
        CheckConstraint(
            f"difficulty IS NULL OR (category = 'dispute' AND {_in('difficulty', DIFFICULTIES)})",
            name="ck_event_difficulty",
        ),
        CheckConstraint("version >= 1", name="ck_event_version"),
        Index("ix_event_location", "location", postgresql_using="gist"),
        Index("ix_event_cell", "cell_id"),
        Index("ix_event_status", "status"),
        Index("ix_event_reported_at", "reported_at"),
        Index("ix_event_assignee", "assignee_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    subcategory: Mapped[str | None] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16), default="medium")
    difficulty: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    location = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False), nullable=False)
    cell_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("grid_cell.id"))
    status: Mapped[str] = mapped_column(String(16), default="reported")
    reporter_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("grid_worker.id"))
    assignee_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("grid_worker.id"))
    reported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rejected_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    #: Idempotency (migration 0003): sha256 of the canonical request body of the first report.
    payload_hash: Mapped[str | None] = mapped_column(Text)
    #: The coordinates as reported, before conversion to WGS-84 (migration 0003).
    original_lon: Mapped[float | None] = mapped_column(Float)
    original_lat: Mapped[float | None] = mapped_column(Float)
    original_crs: Mapped[str | None] = mapped_column(String(8))
    # -- migration 0007: the case workflow (geodata.workflow)
    #: Deadline tier: red / yellow / blue (hours per category in ``deadline_policy``).
    priority: Mapped[str] = mapped_column(String(8))  # NULL on insert → from severity (trigger)
    #: Grid level whose commander owns the case (3 township; escalation moves it up).
    owner_level: Mapped[int] = mapped_column(SmallInteger, default=3)
    supervised_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    supervision_reason: Mapped[str | None] = mapped_column(String(16))
    supervised_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("account.id"))
    escalated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    merged_into_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("event.id"))
    department_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("department.id"))


class DeadlinePolicy(Base):
    """Hours to resolve an event of a category in a priority tier (migration 0007)."""

    __tablename__ = "deadline_policy"
    __table_args__ = (
        CheckConstraint(_in("priority", PRIORITIES), name="ck_deadline_policy_priority"),
        CheckConstraint(
            "resolve_hours > 0 AND resolve_hours <= 8760", name="ck_deadline_policy_hours"
        ),
    )

    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    priority: Mapped[str] = mapped_column(String(8), primary_key=True)
    resolve_hours: Mapped[float] = mapped_column(Float)


class Department(Base):
    """A department unit plugged into the grid (police station, court, ...; migration 0007)."""

    __tablename__ = "department"
    __table_args__ = (
        CheckConstraint(_in("kind", DEPARTMENT_KINDS), name="ck_department_kind"),
        Index("ix_department_service_area", "service_area", postgresql_using="gist"),
        Index("ix_department_location", "location", postgresql_using="gist"),
        Index("ix_department_cell", "cell_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    cell_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("grid_cell.id"))
    location = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False), nullable=False)
    service_area = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False
    )
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=True)


class EventFollower(Base):
    """A worker following an event they did not report (a merged duplicate's reporter)."""

    __tablename__ = "event_follower"
    __table_args__ = (Index("ix_event_follower_worker", "worker_id"),)

    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("event.id"), primary_key=True)
    worker_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("grid_worker.id", ondelete="CASCADE"), primary_key=True
    )
    since: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    via_event_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("event.id"))


class EventAction(Base):
    """Append-only history of every state change of an event (UPDATE/DELETE are refused)."""

    __tablename__ = "event_action"
    __table_args__ = (
        CheckConstraint(
            "actor_type IN ('worker', 'account', 'system')", name="ck_event_action_actor"
        ),
        Index("ix_event_action_event", "event_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("event.id"))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    # -- migration 0006: the audit chain (filled by a BEFORE INSERT trigger; see geodata.audit)
    #: The previous row's ``row_hash`` (id order; 64 zeros for the first row).
    prev_hash: Mapped[str] = mapped_column(String(64))
    #: sha256 hex of the row's canonical text (content and ``prev_hash``).
    row_hash: Mapped[str] = mapped_column(String(64))


class Account(Base):
    """A dashboard user; the jurisdiction cell bounds everything the account may see."""

    __tablename__ = "account"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="ck_account_role"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(Text, default="")
    role: Mapped[str] = mapped_column(String(16))
    jurisdiction_cell_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("grid_cell.id"))
    password_hash: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # -- migration 0005
    #: The grid worker a ``grid_worker`` account belongs to.
    worker_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("grid_worker.id", ondelete="SET NULL")
    )
    #: Base32 TOTP secret once a second factor is enrolled.
    totp_secret: Mapped[str | None] = mapped_column(Text)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: May unmask one resident's personal data (with a reason; audited).
    can_unmask: Mapped[bool] = mapped_column(Boolean, default=False)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    # -- migration 0007: the department unit of a ``department`` account.
    department_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("department.id"))


class GridCellLod(Base):
    """A cell's outline simplified (topology-preserving, per level) and quantised for one zoom
    band; see ``gridcmd.zoom`` for the bands and ``geodata.lod`` for how they are built."""

    __tablename__ = "grid_cell_lod"
    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 6", name="ck_grid_cell_lod_level"),
        Index("ix_grid_cell_lod_band_level_geom", "band", "level", "geom", postgresql_using="gist"),
    )

    band: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    cell_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("grid_cell.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[int] = mapped_column(SmallInteger)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False)
    n_vertices: Mapped[int] = mapped_column(Integer)


class GridMeta(Base):
    """Small key/value facts about the data (e.g. the LOD build id used in ETags)."""

    __tablename__ = "grid_meta"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class ApiToken(Base):
    """A worker's bearer token for the mobile API; only the sha256 hex of the token is stored."""

    __tablename__ = "api_token"
    __table_args__ = (Index("ix_api_token_worker", "worker_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: The worker a ``worker`` token acts for; NULL for a ``gateway`` token (migration 0004).
    worker_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("grid_worker.id", ondelete="CASCADE")
    )
    #: 'worker' (one phone) or 'gateway' (a relay sending fixes for the workers of a subtree).
    kind: Mapped[str] = mapped_column(String(8), default="worker")
    #: A gateway's jurisdiction: it may act for workers whose cell is in this cell's subtree.
    scope_cell_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("grid_cell.id"))
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    label: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


# ----------------------------------------------------------------------------- migration 0004

CRS_NAMES = ("wgs84", "gcj02", "bd09")
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")


class EventPhoto(Base):
    """A photo attached to an event; the file lives under ``var/photos`` by ``storage_key``."""

    __tablename__ = "event_photo"
    __table_args__ = (
        UniqueConstraint("event_id", "sha256", name="uq_event_photo"),
        CheckConstraint(_in("content_type", PHOTO_TYPES), name="ck_event_photo_type"),
        CheckConstraint("n_bytes > 0", name="ck_event_photo_bytes"),
        Index("ix_event_photo_event", "event_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("event.id", ondelete="CASCADE"))
    #: sha256 hex of the stored (EXIF-stripped) bytes.
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    n_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(Text)
    uploaded_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("grid_worker.id", ondelete="SET NULL")
    )
    uploaded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Checkin(Base):
    """An attendance check-in/out and the server's verdict on being inside the assigned cell."""

    __tablename__ = "checkin"
    __table_args__ = (
        UniqueConstraint("uuid", name="uq_checkin_uuid"),
        CheckConstraint("kind IN ('in', 'out')", name="ck_checkin_kind"),
        CheckConstraint("distance_m >= 0 AND tolerance_m >= 0", name="ck_checkin_distance"),
        CheckConstraint(_in("original_crs", CRS_NAMES), name="ck_checkin_crs"),
        Index("ix_checkin_worker_at", "worker_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    worker_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("grid_worker.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(8))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    location = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False), nullable=False)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    #: The worker's assigned cell at check-in time.
    cell_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("grid_cell.id"))
    #: Metres from the assigned cell (0 inside).
    distance_m: Mapped[float] = mapped_column(Float)
    tolerance_m: Mapped[float] = mapped_column(Float)
    inside: Mapped[bool] = mapped_column(Boolean)
    payload_hash: Mapped[str] = mapped_column(Text)
    original_lon: Mapped[float] = mapped_column(Float)
    original_lat: Mapped[float] = mapped_column(Float)
    original_crs: Mapped[str] = mapped_column(String(8))
    received_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Patrol(Base):
    """A patrol track (WGS-84 line) with its start and end times."""

    __tablename__ = "patrol"
    __table_args__ = (
        UniqueConstraint("uuid", name="uq_patrol_uuid"),
        CheckConstraint("ended_at >= started_at", name="ck_patrol_times"),
        CheckConstraint("n_points >= 2 AND length_m >= 0", name="ck_patrol_points"),
        Index("ix_patrol_worker_started", "worker_id", "started_at"),
        Index("ix_patrol_track", "track", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    worker_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("grid_worker.id", ondelete="CASCADE")
    )
    cell_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("grid_cell.id"))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    track = mapped_column(Geometry("LINESTRING", srid=SRID, spatial_index=False), nullable=False)
    length_m: Mapped[float] = mapped_column(Float)
    n_points: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    payload_hash: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Visit(Base):
    """A household visit (走访) tied to a cell, with a note."""

    __tablename__ = "visit"
    __table_args__ = (
        UniqueConstraint("uuid", name="uq_visit_uuid"),
        Index("ix_visit_worker_at", "worker_id", "visited_at"),
        Index("ix_visit_cell", "cell_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    worker_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("grid_worker.id", ondelete="CASCADE")
    )
    cell_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("grid_cell.id"))
    visited_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    location = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    household: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text)
    payload_hash: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Camera(Base):
    """A networked video camera (视频资源): location, cell and stream URL."""

    __tablename__ = "camera"
    __table_args__ = (
        UniqueConstraint("code", name="uq_camera_code"),
        CheckConstraint(_in("stream_kind", STREAM_KINDS), name="ck_camera_kind"),
        Index("ix_camera_location", "location", postgresql_using="gist"),
        Index("ix_camera_cell", "cell_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    location = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False), nullable=False)
    cell_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("grid_cell.id"))
    stream_url: Mapped[str] = mapped_column(Text)
    stream_kind: Mapped[str] = mapped_column(String(8))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    imported_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class LiveChange(Base):
    """The live change log: one row per changing statement (written by triggers)."""

    __tablename__ = "live_change"
    __table_args__ = (
        CheckConstraint(_in("kind", LIVE_KINDS), name="ck_live_change_kind"),
        Index("ix_live_change_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    kind: Mapped[str] = mapped_column(String(8))
    ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))


# ----------------------------------------------------------------------------- migration 0005




class RolePolicy(Base):
    """Per-role policy set by an admin (a second factor required or not)."""

    __tablename__ = "role_policy"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="ck_role_policy_role"),)

    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    totp_required: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class AuthSession(Base):
    """A server-side login session; the cookie holds a random token, the table its sha256."""

    __tablename__ = "auth_session"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_auth_session_token"),
        Index("ix_auth_session_account", "account_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    token_hash: Mapped[str] = mapped_column(Text)
    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("account.id", ondelete="CASCADE")
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_seen_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    second_factor_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(Text)
    user_agent: Mapped[str | None] = mapped_column(Text)


class SecurityLog(Base):
    """Append-only security log (UPDATE/DELETE refused by a trigger)."""

    __tablename__ = "security_log"
    __table_args__ = (
        CheckConstraint(_in("kind", SECURITY_KINDS), name="ck_security_log_kind"),
        Index("ix_security_log_at", "at"),
        Index("ix_security_log_account", "account_id", "at"),
        Index(
            "ix_security_log_id_search",
            "account_id",
            "at",
            postgresql_where=text("kind = 'id_search'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    kind: Mapped[str] = mapped_column(String(24))
    account_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("account.id", ondelete="SET NULL")
    )
    username: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(Text)
    target: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="")


class Resident(Base):
    """A registered resident (synthetic in the demo); personal data, masked before it leaves."""

    __tablename__ = "resident"
    __table_args__ = (
        UniqueConstraint("id_number", name="uq_resident_id_number"),
        CheckConstraint("gender IN ('M', 'F')", name="ck_resident_gender"),
        Index("ix_resident_cell", "cell_id"),
        Index("ix_resident_name", "name", postgresql_ops={"name": "text_pattern_ops"}),
        Index("ix_resident_phone", "phone"),
        Index("ix_resident_household", "household_no"),
        Index("ix_resident_location", "location", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    #: 18-character resident ID number (GB 11643, with its check digit).
    id_number: Mapped[str] = mapped_column(String(18))
    phone: Mapped[str] = mapped_column(String(20))
    gender: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    household_no: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(Text, default="")
    cell_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("grid_cell.id"))
    location = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=True)


class WorkerAssignment(Base):
    """One period of a worker's assignment to a cell (the open one has no ``ended_at``)."""

    __tablename__ = "worker_assignment"
    __table_args__ = (
        CheckConstraint(
            "ended_at IS NULL OR ended_at >= started_at", name="ck_worker_assignment_times"
        ),
        Index("ix_worker_assignment_worker", "worker_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("grid_worker.id", ondelete="CASCADE")
    )
    cell_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("grid_cell.id"))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    changed_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("account.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(Text, default="")


class WorkerTraining(Base):
    """A training session a grid worker attended."""

    __tablename__ = "worker_training"
    __table_args__ = (
        CheckConstraint("hours > 0 AND hours <= 24", name="ck_worker_training_hours"),
        Index("ix_worker_training_worker", "worker_id", "held_on"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("grid_worker.id", ondelete="CASCADE")
    )
    held_on: Mapped[dt.date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(Text)
    hours: Mapped[float] = mapped_column(Float)
    recorded_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("account.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
