"""Tables of the store, as SQLAlchemy Core metadata shared by both backends.

The readings table differs by backend (an INTEGER of microseconds in a ``WITHOUT ROWID`` table on
SQLite, a ``timestamptz`` in a yearly-partitioned table on PostgreSQL), so it is created by the
migration with backend DDL and described here only for reading.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: Ids the API takes: 64-bit (BIGINT on PostgreSQL; SQLite's INTEGER rowid is 64-bit already).
WIDE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

sites = sa.Table(
    "sites",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_zh", sa.Text, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("synthetic", sa.Boolean, nullable=False),
    sa.Column("definition", sa.Text, nullable=False),  # the site file's YAML text
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

instruments = sa.Table(
    "instruments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), nullable=False),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("section", sa.String(64)),
    sa.Column("elevation", sa.Float),
    sa.Column("chainage", sa.Float),
    sa.Column("installed", sa.Date),
    sa.Column("manual", sa.Boolean, nullable=False),
    sa.UniqueConstraint("site_id", "code"),
)

channels = sa.Table(
    "channels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), nullable=False),
    sa.Column("instrument_id", sa.Integer, sa.ForeignKey("instruments.id"), nullable=False),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("quantity", sa.String(64), nullable=False),
    sa.Column("unit", sa.String(32), nullable=False),
    sa.Column("limit_min", sa.Float),
    sa.Column("limit_max", sa.Float),
    sa.Column("conversion", sa.JSON, nullable=False),
    sa.UniqueConstraint("site_id", "code"),
)

rejected = sa.Table(
    "rejected",
    metadata,
    sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("line", sa.Integer),
    sa.Column("channel", sa.String(64)),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    # The reason's catalogue key and parameters, to show it in the reader's language (0009).
    sa.Column("reason_key", sa.String(64)),
    sa.Column("reason_params", sa.JSON),
    # Unique index rejected_once (site_id, source, line, channel, raw): see migration 0005.
)

flags = sa.Table(
    "flags",
    metadata,
    sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
    sa.Column("channel_id", sa.Integer, sa.ForeignKey("channels.id"), nullable=False),
    sa.Column("time_us", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("set_by", sa.String(64), nullable=False),
    sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("detail_key", sa.String(64)),  # the detail's catalogue key (0009)
    sa.Column("detail_params", sa.JSON),
    sa.UniqueConstraint("channel_id", "time_us", "kind"),
)

flag_events = sa.Table(
    "flag_events",
    metadata,
    sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
    sa.Column("flag_id", WIDE_ID, sa.ForeignKey("flags.id"), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
    sa.Column("channel_id", sa.Integer, sa.ForeignKey("channels.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("r2", sa.Float, nullable=False),
    sa.Column("sigma", sa.Float, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("window_start_us", sa.BigInteger, nullable=False),
    sa.Column("window_end_us", sa.BigInteger, nullable=False),
    sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("fit", sa.JSON, nullable=False),
    sa.UniqueConstraint("channel_id", "version"),
)

alarms = sa.Table(
    "alarms",
    metadata,
    sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
    sa.Column("channel_id", sa.Integer, sa.ForeignKey("channels.id"), nullable=False),
    sa.Column("rule", sa.String(16), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("peak_level", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("raised_us", sa.BigInteger, nullable=False),
    sa.Column("last_us", sa.BigInteger, nullable=False),
    sa.Column("cleared_us", sa.BigInteger),
    sa.Column("value", sa.Float),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("acknowledged_by", sa.String(64)),
    sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
    sa.Column("acknowledge_comment", sa.Text),
    sa.Column("message_key", sa.String(64)),  # the message's catalogue key (0009)
    sa.Column("message_params", sa.JSON),
)

alarm_events = sa.Table(
    "alarm_events",
    metadata,
    sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
    sa.Column("alarm_id", WIDE_ID, sa.ForeignKey("alarms.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("time_us", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("actor", sa.String(64)),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("message_key", sa.String(64)),  # the message's catalogue key (0009)
    sa.Column("message_params", sa.JSON),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("notifier", sa.String(64), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("time_us", sa.BigInteger, nullable=False),
)

evaluated = sa.Table(
    "evaluated",
    metadata,
    sa.Column("channel_id", sa.Integer, sa.ForeignKey("channels.id"), primary_key=True),
    sa.Column("until_us", sa.BigInteger, nullable=False),
)

# -- users, sessions, API keys, audit log (migration 0003) ------------------------------------

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),  # argon2id, PHC string
    sa.Column("role", sa.String(16), nullable=False),  # viewer | operator | engineer | admin
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # sha256 hex of the token
    sa.Column("user_id", WIDE_ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),  # sha256 hex of the key
    sa.Column("prefix", sa.String(16), nullable=False),  # first characters, for display
    sa.Column("scopes", sa.JSON, nullable=False),  # e.g. ["ingest"]
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False),
)

login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("client", sa.String(64), nullable=False),  # the client's IP address
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(80), nullable=False),  # a username, "key:NAME" or "cli:USER"
    sa.Column("action", sa.String(64), nullable=False),  # e.g. alarm.acknowledge
    sa.Column("target", sa.Text, nullable=False),  # e.g. alarm 12
    sa.Column("detail", sa.JSON, nullable=False),
)

# -- the notification outbox (migration 0006) -------------------------------------------------

#: One message to send: an alarm event through one notifier, and where its delivery stands.
#: Index outbox_due (state, next_try_us): see migration 0006.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(128), nullable=False),  # the event's dedupe key
    sa.Column("notifier", sa.String(64), nullable=False),
    sa.Column("event", sa.JSON, nullable=False),  # the AlarmEvent's fields
    sa.Column("state", sa.String(16), nullable=False),  # pending | sent | gave_up
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_try_us", sa.BigInteger, nullable=False),
    sa.Column("claimed_by", sa.String(64)),  # the runner that holds it, or last tried it
    sa.Column("lease_until_us", sa.BigInteger),  # held until then; NULL: not held
    sa.Column("last_error", sa.Text),
    sa.Column("created_us", sa.BigInteger, nullable=False),
    sa.Column("done_us", sa.BigInteger),  # when it was sent or given up
    sa.UniqueConstraint("key", "notifier"),
)

# -- the worker's jobs (migration 0007) -------------------------------------------------------

#: One job of the background worker: periodic (``period_s``) or one-off (``payload``), and who
#: holds it. ``state``: scheduled (due at ``next_run_us``) | running | done | failed (one-offs).
#: ``runs`` counts the claims: a holder's renewals and result count only for its own claim.
#: Index jobs_due (state, next_run_us): see migration 0007.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("kind", sa.String(64), nullable=False),  # the handler that runs it
    sa.Column("payload", sa.JSON),  # a one-off job's parameters (bounded); NULL: none
    sa.Column("period_s", sa.Float),  # seconds between runs; NULL: a one-off job
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("next_run_us", sa.BigInteger, nullable=False),
    sa.Column("lease_owner", sa.String(64)),  # the worker that holds it, or last held it
    sa.Column("lease_until_us", sa.BigInteger),  # held until then; NULL: not held
    sa.Column("runs", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),  # claims since its last success
    sa.Column("last_start_us", sa.BigInteger),
    sa.Column("last_end_us", sa.BigInteger),
    sa.Column("last_error", sa.Text),
    sa.Column("created_us", sa.BigInteger, nullable=False),
)

# -- media: the metadata of binary objects kept as files (migration 0008) ---------------------

#: One object put by a source: which file (``sha256``, under the media folder), of which site,
#: from where, when, and how long it is kept. The same bytes put again by the same source for
#: the same time are one row; put by another source or for another time, another row naming
#: the same file. Indexes media_listed (site_id, taken_us), media_file (sha256) and
#: media_aging (retention, stored_us): see migration 0008.
media = sa.Table(
    "media",
    metadata,
    sa.Column("id", WIDE_ID, primary_key=True, autoincrement=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), nullable=False),
    sa.Column("source", sa.String(128), nullable=False),  # e.g. sl651:0012345678
    sa.Column("taken_us", sa.BigInteger, nullable=False),  # when it was taken (µs, UTC)
    sa.Column("stored_us", sa.BigInteger, nullable=False),  # when it was kept: its age
    sa.Column("sha256", sa.String(64), nullable=False),  # the file's name
    sa.Column("size", sa.BigInteger, nullable=False),  # bytes
    sa.Column("content_type", sa.String(80), nullable=False),  # from the bytes' signature
    sa.Column("retention", sa.String(32), nullable=False),  # routine | event | report ...
    sa.Column("name", sa.String(255)),  # a file name for downloads, or NULL
    sa.UniqueConstraint("site_id", "source", "sha256", "taken_us", name="media_once"),
)

# -- cameras (migration 0010) -------------------------------------------------------------------

#: Each camera's feed status as its watcher last wrote it (JSON), and when (µs).
camera_status = sa.Table(
    "camera_status",
    metadata,
    sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), primary_key=True),
    sa.Column("camera", sa.String(48), primary_key=True),
    sa.Column("status", sa.JSON, nullable=False),
    sa.Column("updated_us", sa.BigInteger, nullable=False),
)

#: The media kept with an alarm: role annotated (the zone drawn), before, at or after.
#: Index alarm_media_of_media (media_id): see migration 0010.
alarm_media = sa.Table(
    "alarm_media",
    metadata,
    sa.Column("alarm_id", WIDE_ID, sa.ForeignKey("alarms.id"), primary_key=True),
    sa.Column("media_id", WIDE_ID, sa.ForeignKey("media.id"), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
)
