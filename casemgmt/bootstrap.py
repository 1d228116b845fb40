"""The composition root: the one place where settings become connected, working parts.

Nothing connects at import. `start(settings)` starts the embedded servers that are not configured,
migrates the schema and builds the application; `Container.close()` undoes it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import redis
from eventsourcing.persistence import PersistenceError

from casemgmt.application import CareCentre, Claims
from casemgmt.application.erasure import RequesterErasure
from casemgmt.application.sessions import CareSessions
from casemgmt.embedded import EmbeddedServers, ensure_servers
from casemgmt.persistence import sharing
from casemgmt.persistence.accounts import Accounts, SignIns
from casemgmt.persistence.datastore import connect
from casemgmt.persistence.migrations import migrate
from casemgmt.persistence.reads import ReadRecorder
from casemgmt.persistence.recorders import PostgresApplicationRecorder
from casemgmt.persistence.references import SequenceReferences
from casemgmt.persistence.shredding import ShreddingMapper
from casemgmt.policy_file import (
    PolicyFileError,
    load_policy,
    load_routing,
    load_taxonomy,
    policy_fingerprint,
)
from casemgmt.queries import TakenCase, WorkQueues
from casemgmt.runtime import Projections, build_projections
from casemgmt.settings import Settings, SettingsError

if TYPE_CHECKING:
    from collections.abc import Callable

    from casemgmt.application import ReferenceNumbers
    from casemgmt.domain.routing import RoutingRules
    from casemgmt.domain.sla_policy import SlaPolicy
    from casemgmt.domain.taxonomy import Taxonomy
    from casemgmt.persistence.datastore import Datastore


class StartupError(RuntimeError):
    """casemgmt cannot start; the message is one line saying what is wrong and how to fix it."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    """Everything a process of casemgmt works with, built from one `Settings`."""

    settings: Settings
    care_centre: CareCentre
    claims: Claims[TakenCase]
    accounts: Accounts
    datastore: Datastore  # the one connection pool of the process, shared with the event store
    redis: redis.Redis[bytes]
    projections: Projections
    work_queues: WorkQueues
    routing: RoutingRules
    sla_policy: SlaPolicy
    sla_policy_fingerprint: str  # "" when the policy was handed to `build` rather than read
    reads: ReadRecorder  # who read which case through the API, written in batches
    care_sessions: CareSessions  # active care: conferences, Q&A sessions and their questions
    taxonomy: Taxonomy  # the kinds of inquiry and units new commands may name
    clock: Callable[[], datetime] = utc_now
    servers: EmbeddedServers | None = field(default=None, repr=False)

    @property
    def erasure(self) -> RequesterErasure:
        """Erases requesters: their cases record it, then their own key is destroyed."""
        mapper = self.care_centre.mapper
        if not isinstance(mapper, ShreddingMapper):
            msg = f"erasure needs the event store's ShreddingMapper, not {type(mapper).__name__}"
            raise TypeError(msg)
        return RequesterErasure(self.care_centre, mapper.keys)

    def close(self) -> None:
        self.reads.close()  # writes the reads that wait, before the pool goes
        self.care_sessions.close()
        self.care_centre.close()  # closes the pool
        self.redis.close()
        if self.servers is not None:
            self.servers.stop()


@dataclass
class Prepared:
    """Servers running (embedded ones started), the database reachable and migrated."""

    servers: EmbeddedServers
    settings: Settings  # with the embedded servers' URLs filled in
    applied: list[str]  # the migrations applied just now


def prepare(settings: Settings) -> Prepared:
    """Connect to (or start) the servers and bring the schema up to date; stop them on failure."""
    servers = ensure_servers(settings)
    try:
        settings = servers.settings(settings)
        assert settings.database_url is not None
        check_database(settings.database_url)
        return Prepared(servers, settings, migrate(settings.database_url))
    except BaseException:
        servers.stop()
        raise


def start(settings: Settings) -> Container:
    """`prepare` the servers and schema, then build the application on them."""
    prepared = prepare(settings)
    try:
        return build(prepared.settings, prepared.servers)
    except BaseException:
        prepared.servers.stop()
        raise


def build(
    settings: Settings,
    servers: EmbeddedServers | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    routing: RoutingRules | None = None,
    references: ReferenceNumbers | None = None,
    sla_policy: SlaPolicy | None = None,
    taxonomy: Taxonomy | None = None,
) -> Container:
    """Wire the parts against servers that are already running and migrated.

    Every seam a test may want to replace is a parameter: the clock that everything reading time
    reads, the routing rules (default: the policy file's), the reference numbers (default: the
    database sequence), the taxonomy (default: the policy file's). The connection settings come
    in `settings`.
    """
    assert settings.redis_url is not None
    if taxonomy is None:
        taxonomy = taxonomy_of(settings)
    routing = routing_rules(settings, taxonomy) if routing is None else routing
    # A policy handed in (tests) is not the file's: its fingerprint is unknown, never applied.
    fingerprint = None
    if sla_policy is None:
        sla_policy = sla_policy_of(settings)
        fingerprint = policy_fingerprint(settings.sla_policy_path)
    care_centre = CareCentre(
        env=application_env(settings),
        sla_policy=sla_policy,
        taxonomy=taxonomy,
        oldest_intake=timedelta(days=settings.oldest_intake_days),
    )
    datastore = _event_store_datastore(care_centre)
    care_centre.references = references or SequenceReferences(datastore)
    key_prefix = redis_key_prefix(settings, datastore)
    redis_client = redis.Redis.from_url(settings.redis_url)
    # Verified tokens are remembered per process; an account change bumps the generation in Redis.
    sign_ins = SignIns(redis_client, f"{key_prefix}:accounts:generation")
    accounts = Accounts(datastore, clock, sign_ins=sign_ins)
    care_centre.accounts = accounts  # whom `assign` names must be an account that may hold cases
    work_queues = WorkQueues(redis_client, clock=clock, routing=routing, key_prefix=key_prefix)
    with sharing(datastore):  # the sessions' events go through the event store's pool
        care_sessions = CareSessions(
            application_env(settings), care_centre=care_centre, taxonomy=taxonomy
        )
    return Container(
        settings=settings,
        care_centre=care_centre,
        claims=Claims(care_centre, work_queues),
        accounts=accounts,
        datastore=datastore,
        redis=redis_client,
        projections=build_projections(
            care_centre,
            datastore,
            redis_client,
            clock=clock,
            routing=routing,
            key_prefix=key_prefix,
            policy_fingerprint=fingerprint,
            care_sessions=care_sessions,
        ),
        work_queues=work_queues,
        routing=routing,
        sla_policy=sla_policy,
        sla_policy_fingerprint=fingerprint or "",
        reads=ReadRecorder(datastore),
        care_sessions=care_sessions,
        taxonomy=taxonomy,
        clock=clock,
        servers=servers,
    )


def _event_store_datastore(care_centre: CareCentre) -> Datastore:
    """The pool the event store opened (sized by CASEMGMT_POOL_SIZE): every part shares it."""
    recorder = care_centre.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):
        msg = f"casemgmt runs on its PostgreSQL event store, not {type(recorder).__name__}"
        raise TypeError(msg)
    return recorder.datastore


def redis_key_prefix(settings: Settings, datastore: Datastore) -> str:
    """The configured prefix plus this event store's identity (migration 0004).

    Positions kept in Redis then belong to one event store: pointed at another database, the work
    queues start from nothing and replay its log instead of trusting a stranger's position.
    """
    (store_id,) = datastore.execute("SELECT id FROM event_store_identity")[0]
    return f"{settings.redis_key_prefix}:{str(store_id)[:8]}"


def sla_policy_of(settings: Settings) -> SlaPolicy:
    """The SLA policy: the policy file's, or the built-in one; a bad file stops start-up."""
    try:
        return load_policy(settings.sla_policy_path)
    except PolicyFileError as error:
        raise SettingsError(str(error)) from None


def taxonomy_of(settings: Settings) -> Taxonomy:
    """The kinds of inquiry and units: the policy file's `[taxonomy]`, or the default ones."""
    try:
        return load_taxonomy(settings.sla_policy_path)
    except PolicyFileError as error:
        raise SettingsError(str(error)) from None


def routing_rules(settings: Settings, taxonomy: Taxonomy | None = None) -> RoutingRules:
    """The queues' routing rules: the policy file's `[queues]` section, or the built-in ones;
    their kinds and units are `taxonomy`'s (None: the policy file's)."""
    try:
        if taxonomy is None:
            taxonomy = load_taxonomy(settings.sla_policy_path)
        return load_routing(settings.sla_policy_path, taxonomy)
    except PolicyFileError as error:
        raise SettingsError(str(error)) from None


def application_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment of the CareCentre application."""
    assert settings.database_url is not None
    env = {
        "PERSISTENCE_MODULE": "casemgmt.persistence",
        "DATABASE_URL": settings.database_url,
        "POOL_SIZE": str(settings.pool_size),
        "CREATE_TABLE": "no",  # migrations/ made the tables
    }
    if settings.cipher_key:
        check_cipher_key(settings.cipher_key)
        env["CIPHER_TOPIC"] = "eventsourcing.cipher:AESCipher"
        env["CIPHER_KEY"] = settings.cipher_key
    if settings.audit_key:
        env["AUDIT_KEY"] = settings.audit_key  # the recorder seals the hash chains with it
    return env


def check_cipher_key(key: str) -> None:
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) not in (16, 24, 32):
        raise SettingsError(
            "CASEMGMT_CIPHER_KEY must be 16, 24 or 32 random bytes in base64; make one with: "
            "python -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())'"
        )


def check_database(database_url: str) -> None:
    """Fail early, in one line, when the database cannot be reached."""
    try:
        connect(database_url).close()
    except PersistenceError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise StartupError(
            f"cannot connect to the database at {_redacted(database_url)}: {reason}; "
            "check CASEMGMT_DATABASE_URL (host, port, user, password, database name), "
            "or unset it to run on the embedded PostgreSQL"
        ) from None


def _redacted(url: str) -> str:
    """The URL without its password, fit for an error message."""
    scheme, _, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not at:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{location}" if ":" in credentials else url
