"""Crypto-shredding: a requester's personal data is stored sealed with a key of their own.

Every stored event and snapshot of a case passes through `ShreddingMapper`. The fields its class
declares personal (`Case.Received.personal`: the requester's id, name and contact, the subject and
the body; the messages of the conversation; a rating's comment; in a snapshot, the same parts of
the case) are taken out of the state, written in its place as what they read as once erased
(`"[erased]"`, or null for the id and contact), and sealed together, with AES-256-GCM under the
requester's key, into one `_sealed_` member: `{"key": key id, "data": base64(nonce, ciphertext,
tag)}`, the case id as associated data so a sealed blob cannot be moved to another case.

Reading opens the blob with the key and puts the fields back. Erasing the requester destroys the
key (`RequesterKeys.destroy`): the stored bytes stay exactly as written, so every hash chain stays
intact, and every reader from then on finds the placeholders. Events stored before this module
existed have no `_sealed_` member and read as they were stored.

Keys: one per requester identified by an id, found by a keyed hash of the id (HMAC-SHA256 with a
secret made by migration 0011), so no table holds the identifier in clear; one per case for an
anonymous requester or a case received before per-requester keys. A later event of a case is
sealed with the key its `Received` names. Key material is cached per process for at most
`REQUESTER_KEY_CACHE_SECONDS` (default 5): that is how long after an erasure another process may
still open data sealed with the destroyed key (the case itself reads as erased at once everywhere,
from the `RequesterErased` event on it).

A case's first event leaves the mapper as a `SealedStoredEvent`, which names its key: the write
of the event links the case to the key in the same transaction (and stores a new one-case key
there), refusing with `SealingKeyDestroyed` a key destroyed since it was looked up (migration
0014). So a requester whose key this process holds costs an intake no round trip of its own, and
one it does not hold, one round trip (the key's look-up, made if need be). Many at once cost one
round trip too: a save of many new cases looks all their requesters up together
(`ShreddingEventStore`), and a batch of the log reads the keys of all its cases together
(`ShreddingMapper.to_domain_events`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar
from uuid import UUID, uuid4

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import EventStore, Mapper, MapperDeserialisationError, StoredEvent

from casemgmt.application.erasure import ErasureRecord, KeyAlreadyDestroyed
from casemgmt.domain.requests import erased_value

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from eventsourcing.domain import DomainEventProtocol
    from eventsourcing.persistence import Cipher, Compressor, Recording, Transcoder

    from casemgmt.persistence.datastore import Datastore

SEALED: Final = "_sealed_"
DEFAULT_CACHE_SECONDS: Final = 5.0
_KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12
_CACHED_ENTRIES: Final = 10_000

K = TypeVar("K")
V = TypeVar("V")


class _Cache(Generic[K, V]):
    """A small thread-safe cache whose entries expire after `seconds` (None: never)."""

    def __init__(self, seconds: float | None, clock: Callable[[], float]) -> None:
        self.seconds = seconds
        self.clock = clock
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> tuple[bool, V | None]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or (self.seconds is not None and entry[1] <= self.clock()):
                return False, None
            return True, entry[0]

    def put(self, key: K, value: V) -> None:
        expires = self.clock() + (self.seconds or 0.0)
        with self._lock:
            self._entries[key] = (value, expires)
            self._entries.move_to_end(key)
            while len(self._entries) > _CACHED_ENTRIES:
                self._entries.popitem(last=False)

    def drop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def drop_where(self, condition: Callable[[V], bool]) -> None:
        with self._lock:
            for key in [key for key, (value, _) in self._entries.items() if condition(value)]:
                del self._entries[key]


@dataclass(frozen=True)
class SealedStoredEvent(StoredEvent):
    """A case's first event as stored, and the key its personal data was sealed with, which the
    write links to the case; `new_key`: the material of a key made for this case alone, which the
    write stores (None: the requester's existing key)."""

    key_id: UUID | None = None
    new_key: bytes | None = None


class RequesterKeys:
    """The requesters' keys (`requester_keys`) and which cases each sealed (`requester_key_cases`).

    `material` caches a key for `cache_seconds`; a destroyed key is remembered for good.
    """

    def __init__(
        self,
        datastore: Datastore,
        *,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.datastore = datastore
        self._materials: _Cache[UUID, bytes] = _Cache(cache_seconds, clock)
        self._by_requester: _Cache[str, tuple[UUID, bytes]] = _Cache(cache_seconds, clock)
        self._destroyed: set[UUID] = set()
        # Which key each case's first event names; never changes once that event is stored.
        self.case_keys: _Cache[UUID, UUID] = _Cache(None, clock)
        self._pepper: bytes | None = None

    # -- sealing ---------------------------------------------------------------------------------

    def material(self, key_id: UUID) -> bytes | None:
        """The key's bytes; None once it was destroyed (or never existed)."""
        if key_id in self._destroyed:
            return None
        found, material = self._materials.get(key_id)
        if found:
            return material
        rows = self.datastore.execute("SELECT key FROM requester_keys WHERE key_id = %s", [key_id])
        material = bytes(rows[0][0]) if rows and rows[0][0] is not None else None
        if material is None:
            self._destroyed.add(key_id)  # for good: a destroyed key never comes back
        else:
            self._materials.put(key_id, material)
        return material

    def look_up_materials(self, key_ids: Iterable[UUID]) -> None:
        """Makes `material` of these keys cost no round trip for a while: those not cached are
        read all in one round trip (a batch of the log names one key per case)."""
        wanted = {
            key_id
            for key_id in key_ids
            if key_id not in self._destroyed and not self._materials.get(key_id)[0]
        }
        if len(wanted) < 2:
            return  # one costs `material` the same round trip
        rows = self.datastore.execute(
            "SELECT key_id, key FROM requester_keys WHERE key_id = ANY(%s::uuid[])", [list(wanted)]
        )
        for key_id, material in rows:
            if material is not None:
                self._materials.put(key_id, bytes(material))
                wanted.discard(key_id)
        self._destroyed.update(wanted)  # for good: a destroyed key never comes back

    def for_requester(self, requester_id: str) -> tuple[UUID, bytes]:
        """The live key of the requester with this id and its material, made now if they have
        none: one round trip, none while cached."""
        digest = self.requester_hash(requester_id)
        found, cached = self._by_requester.get(digest.hex())
        if found and cached is not None:
            return cached
        rows = self.datastore.execute(
            "INSERT INTO requester_keys (key_id, requester_hash, key) VALUES (%s, %s, %s)"
            " ON CONFLICT (requester_hash) DO NOTHING;"
            " SELECT key_id, key FROM requester_keys WHERE requester_hash = %s",
            [uuid4(), digest, os.urandom(_KEY_BYTES), digest],
        )
        key: tuple[UUID, bytes] = (rows[0][0], bytes(rows[0][1]))
        self._by_requester.put(digest.hex(), key)
        self._materials.put(*key)
        return key

    def look_up(self, requester_ids: Iterable[str]) -> None:
        """Makes `for_requester` of these requesters cost no round trip for a while: those not
        cached are looked up (their keys made if need be) all in one round trip."""
        named = set(requester_ids)
        if len(named) < 2:
            return  # one costs `for_requester` the same round trip
        wanted: dict[str, bytes] = {}
        for requester_id in named:
            digest = self.requester_hash(requester_id)
            if not self._by_requester.get(digest.hex())[0]:
                wanted[digest.hex()] = digest
        if len(wanted) < 2:
            return
        digests = list(wanted.values())
        rows = self.datastore.execute(
            "INSERT INTO requester_keys (key_id, requester_hash, key)"
            " SELECT * FROM unnest(%s::uuid[], %s::bytea[], %s::bytea[])"
            " ON CONFLICT (requester_hash) DO NOTHING;"
            " SELECT requester_hash, key_id, key FROM requester_keys"
            " WHERE requester_hash = ANY(%s::bytea[])",
            [
                [uuid4() for _ in digests],
                digests,
                [os.urandom(_KEY_BYTES) for _ in digests],
                digests,
            ],
        )
        for digest, key_id, material in rows:
            key: tuple[UUID, bytes] = (key_id, bytes(material))
            self._by_requester.put(bytes(digest).hex(), key)
            self._materials.put(*key)

    def sealing(self, case_id: UUID, key_id: UUID, new_key: bytes | None) -> None:
        """The case's first event is being sealed with the key: the case's later events of the
        same write are sealed with it too (`unsealed` undoes this when the write fails)."""
        self.case_keys.put(case_id, key_id)
        if new_key is not None:
            self._materials.put(key_id, new_key)

    def unsealed(self, case_id: UUID, key_id: UUID, new_key: bytes | None) -> None:
        """The write of the case's first event failed: the key is not the case's (and a new one
        was not stored)."""
        self.case_keys.drop(case_id)
        if new_key is not None:
            self._materials.drop(key_id)

    def forget(self, key_id: UUID) -> None:
        """A write found the key destroyed: never seal or open with it again."""
        self._destroyed.add(key_id)
        self._materials.drop(key_id)
        self._by_requester.drop_where(lambda cached: cached[0] == key_id)

    def for_one_case(self) -> UUID:
        """A new key of its own for one case (an anonymous requester's, or an old case's)."""
        key_id = uuid4()
        self.datastore.execute(
            "INSERT INTO requester_keys (key_id, key) VALUES (%s, %s)",
            [key_id, os.urandom(_KEY_BYTES)],
        )
        return key_id

    def link(self, key_id: UUID, case_id: UUID) -> bool:
        """Records that the case holds data sealed with the key; False when the key is destroyed.

        FOR SHARE waits for an erasure of the key that is under way and then sees its outcome, so
        an erasure that took the key's row lock knows every case the key will ever seal.
        """
        rows = self.datastore.execute(
            "WITH live AS (SELECT key_id FROM requester_keys"
            " WHERE key_id = %s AND key IS NOT NULL FOR SHARE)"
            " INSERT INTO requester_key_cases (key_id, case_id) SELECT key_id, %s FROM live"
            " ON CONFLICT DO NOTHING;"
            " SELECT EXISTS (SELECT FROM requester_key_cases k JOIN requester_keys r USING (key_id)"
            " WHERE k.key_id = %s AND k.case_id = %s AND r.key IS NOT NULL)",
            [key_id, case_id, key_id, case_id],
        )
        return bool(rows[0][0])

    def forget_requester(self, requester_id: str) -> None:
        self._by_requester.drop(self.requester_hash(requester_id).hex())

    # -- erasure ---------------------------------------------------------------------------------

    def find(self, requester_id: str) -> UUID | None:
        """The id of the requester's live key; None when nothing of theirs is held (any more)."""
        rows = self.datastore.execute(
            "SELECT key_id FROM requester_keys WHERE requester_hash = %s AND key IS NOT NULL",
            [self.requester_hash(requester_id)],
        )
        return rows[0][0] if rows else None

    def cases_of(self, key_id: UUID) -> list[UUID]:
        rows = self.datastore.execute(
            "SELECT case_id FROM requester_key_cases WHERE key_id = %s ORDER BY case_id", [key_id]
        )
        return [case_id for (case_id,) in rows]

    def destroy(self, key_id: UUID, cases: set[UUID], record: ErasureRecord) -> list[UUID]:
        """Destroys the key and records the erasure, in one transaction, when the key sealed no
        case but `cases`; otherwise changes nothing and returns the cases it also sealed."""
        with self.datastore.pool.connection() as conn, conn.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(
                "SELECT key_id FROM requester_keys WHERE key_id = %s AND key IS NOT NULL"
                " FOR UPDATE",
                [key_id],
            )
            if not cursor.fetchall():
                cursor.execute("ROLLBACK")
                raise KeyAlreadyDestroyed(key_id)
            cursor.execute("SELECT case_id FROM requester_key_cases WHERE key_id = %s", [key_id])
            others = sorted(case_id for (case_id,) in cursor.fetchall() if case_id not in cases)
            if others:
                cursor.execute("ROLLBACK")
                return others
            cursor.execute(
                "UPDATE requester_keys SET key = NULL, requester_hash = NULL, erased_at = %s"
                " WHERE key_id = %s",
                [record.erased_at, key_id],
            )
            cursor.execute(
                "INSERT INTO requester_erasures (erasure_id, key_id, erased_at, actor_id,"
                " actor_role, on_behalf_of, correlation_id, reason, cases)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    record.erasure_id,
                    key_id,
                    record.erased_at,
                    record.actor_id,
                    record.actor_role,
                    record.on_behalf_of,
                    record.correlation_id,
                    record.reason,
                    len(cases),
                ],
            )
            cursor.execute("COMMIT")
        self._materials.drop(key_id)
        self._destroyed.add(key_id)
        return []

    # -- the keyed hash --------------------------------------------------------------------------

    def requester_hash(self, requester_id: str) -> bytes:
        """HMAC-SHA256 of the requester's id (spaces around it ignored) with the store's secret."""
        if self._pepper is None:
            rows = self.datastore.execute("SELECT pepper FROM requester_key_pepper")
            self._pepper = bytes(rows[0][0])
        return hmac.new(self._pepper, requester_id.strip().encode(), hashlib.sha256).digest()


class ShreddingMapper(Mapper[UUID]):
    """eventsourcing's mapper, sealing the personal fields of case events and snapshots."""

    def __init__(
        self,
        transcoder: Transcoder,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
        *,
        keys: RequesterKeys,
        events_table: str,
    ) -> None:
        super().__init__(transcoder, compressor=compressor, cipher=cipher)
        self.keys = keys
        self.events_table = events_table

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        paths = getattr(type(domain_event), "personal", ())
        state = _copied(vars(domain_event), paths)
        secrets = {path: value for path, value in _found(state, paths) if value is not None}
        if not secrets:
            return super().to_stored_event(domain_event)
        case_id = domain_event.originator_id
        version = domain_event.originator_version
        first = version == 1 and isinstance(state.get("requester"), dict)
        material: bytes | None
        if first:
            key_id, material, new_key = self._first_key(state["requester"].get("id"))
            self.keys.sealing(case_id, key_id, new_key)
        else:
            key_id, new_key = self._key_of_case(case_id), None
            material = self.keys.material(key_id)
        for path in secrets:
            _put(state, path, erased_value(_last_names(path)))
        if material is not None:  # no key: the requester is erased, and so is what is said now
            state[SEALED] = {"key": key_id.hex, "data": self._seal(material, case_id, secrets)}
        clone = object.__new__(type(domain_event))
        object.__setattr__(clone, "__dict__", state)
        stored = super().to_stored_event(clone)
        if not first:
            return stored
        return SealedStoredEvent(
            stored.originator_id,
            stored.originator_version,
            stored.topic,
            stored.state,
            key_id=key_id,
            new_key=new_key,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        event = super().to_domain_event(stored_event)
        return self._opened(stored_event, event, vars(event).pop(SEALED, None))

    def to_domain_events(
        self, stored_events: Sequence[StoredEvent]
    ) -> list[DomainEventProtocol[UUID]]:
        """`to_domain_event` of each, with the keys they were sealed with read all at once: a
        batch of the log costs one round trip for its keys rather than one per case."""
        decode = super().to_domain_event
        decoded = [decode(stored) for stored in stored_events]
        sealed = [vars(event).pop(SEALED, None) for event in decoded]
        self.keys.look_up_materials(UUID(seal["key"]) for seal in sealed if seal is not None)
        return [
            self._opened(stored, event, seal)
            for stored, event, seal in zip(stored_events, decoded, sealed, strict=True)
        ]

    def _opened(
        self,
        stored_event: StoredEvent,
        event: DomainEventProtocol[UUID],
        sealed: dict[str, Any] | None,
    ) -> DomainEventProtocol[UUID]:
        """The event with its personal fields opened from `sealed` (its `_sealed_` member)."""
        if sealed is None:
            return event
        state = vars(event)
        key_id = UUID(sealed["key"])
        if stored_event.originator_version == 1:
            self.keys.case_keys.put(UUID(str(stored_event.originator_id)), key_id)
        material = self.keys.material(key_id)
        if material is None:
            return event  # shredded: the placeholders stored in the fields stay
        try:
            secrets = self._open(material, stored_event.originator_id, sealed["data"])
        except ValueError as error:
            msg = (
                f"the personal data of event {stored_event.originator_version} of case "
                f"{stored_event.originator_id} does not open with its requester's key: {error}"
            )
            raise MapperDeserialisationError(msg) from error
        for path, value in secrets.items():
            _put(state, path, value)
        return event

    # -- keys ------------------------------------------------------------------------------------

    def look_up_keys(self, domain_events: Sequence[DomainEventProtocol[UUID]]) -> None:
        """Before a write of many new cases: their requesters' keys, in one round trip rather
        than one each as their first events are sealed."""
        requesters = (
            vars(event).get("requester")
            for event in domain_events
            if event.originator_version == 1 and getattr(type(event), "personal", None)
        )
        self.keys.look_up(
            requester["id"]
            for requester in requesters
            if isinstance(requester, dict) and requester.get("id") is not None
        )

    def _first_key(self, requester_id: str | None) -> tuple[UUID, bytes, bytes | None]:
        """The key a case's first event is sealed with: the requester's, or for an anonymous
        requester a new one for this case alone (made here, stored by the write); its material;
        and the material to store (None: the key is stored already)."""
        if requester_id is None:
            material = os.urandom(_KEY_BYTES)
            return uuid4(), material, material
        key_id, material = self.keys.for_requester(requester_id)
        return key_id, material, None

    def _key_of_case(self, case_id: UUID) -> UUID:
        found, key_id = self.keys.case_keys.get(case_id)
        if found and key_id is not None:
            return key_id
        key_id = self._key_named_by_first_event(case_id)
        if key_id is None:  # received before requester keys: a key of its own from now on
            rows = self.keys.datastore.execute(
                "SELECT key_id FROM requester_key_cases WHERE case_id = %s LIMIT 1", [case_id]
            )
            key_id = rows[0][0] if rows else self.keys.for_one_case()
            self.keys.link(key_id, case_id)
        self.keys.case_keys.put(case_id, key_id)
        return key_id

    def _key_named_by_first_event(self, case_id: UUID) -> UUID | None:
        rows = self.keys.datastore.execute(
            f"SELECT state FROM {self.events_table}"
            " WHERE originator_id = %s AND originator_version = 1",
            [case_id],
        )
        if not rows:
            return None
        stored_state = bytes(rows[0][0])
        if self.cipher:
            stored_state = self.cipher.decrypt(stored_state)
        if self.compressor:
            stored_state = self.compressor.decompress(stored_state)
        sealed = self.transcoder.decode(stored_state).get(SEALED)
        return None if sealed is None else UUID(sealed["key"])

    # -- AES-GCM ---------------------------------------------------------------------------------

    # OpenSSL's AES-GCM (the `cryptography` package): a cipher object costs a few microseconds,
    # where a pure-Python GCM setup cost a quarter of a projection's time per event. The stored
    # layout is nonce, ciphertext, tag, with the case id as associated data.

    def _seal(self, material: bytes, case_id: UUID, secrets: dict[str, Any]) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(material).encrypt(nonce, self.transcoder.encode(secrets), case_id.bytes)
        return base64.b64encode(nonce + sealed).decode("ascii")

    def _open(self, material: bytes, case_id: UUID | str, data: str) -> dict[str, Any]:
        raw = base64.b64decode(data)
        try:
            plain = AESGCM(material).decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], UUID(str(case_id)).bytes
            )
        except InvalidTag:
            raise ValueError("the sealed data does not open with this key and case") from None
        secrets: dict[str, Any] = self.transcoder.decode(plain)
        return secrets


class ShreddingEventStore(EventStore[UUID]):
    """eventsourcing's event store; before a write, a `ShreddingMapper` looks up the keys of all
    the new cases' requesters at once (a save of many new cases, one round trip for their keys)."""

    def put(
        self, domain_events: Sequence[DomainEventProtocol[UUID]], **kwargs: Any
    ) -> list[Recording[UUID]]:
        if isinstance(self.mapper, ShreddingMapper):
            self.mapper.look_up_keys(domain_events)
        return super().put(domain_events, **kwargs)


# -- paths into an event's state: "requester.name", "state.messages.*.text" ---------------------


def _copied(state: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """The state with every container on the paths copied, so putting into it changes no event."""
    copy = dict(state)
    for path in paths:
        _copy_along(copy, path.split("."))
    return copy


def _copy_along(container: Any, names: list[str]) -> None:
    if len(names) < 2:
        return
    head, rest = names[0], names[1:]
    if head == "*" and isinstance(container, list):
        for index, item in enumerate(container):
            if isinstance(item, dict | list):
                container[index] = type(item)(item)
                _copy_along(container[index], rest)
        return
    if isinstance(container, dict) and isinstance(container.get(head), dict | list):
        container[head] = type(container[head])(container[head])
        _copy_along(container[head], rest)


def _found(state: dict[str, Any], paths: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    """Each concrete path ("state.messages.2.text") the declared paths reach, with its value."""
    for path in paths:
        yield from _walk(state, path.split("."), [])


def _walk(container: Any, names: list[str], done: list[str]) -> Iterator[tuple[str, Any]]:
    if not names:
        yield ".".join(done), container
        return
    head, rest = names[0], names[1:]
    if head == "*":
        if isinstance(container, list):
            for index, item in enumerate(container):
                yield from _walk(item, rest, [*done, str(index)])
    elif isinstance(container, dict) and head in container:
        yield from _walk(container[head], rest, [*done, head])


def _put(state: dict[str, Any], path: str, value: Any) -> None:
    *names, last = path.split(".")
    container: Any = state
    for name in names:
        container = container[int(name)] if isinstance(container, list) else container[name]
    if isinstance(container, list):
        container[int(last)] = value
    else:
        container[last] = value


def _last_names(path: str) -> str:
    """The path without list indexes, as `erased_value` reads it ("state.requester.id")."""
    return ".".join(name for name in path.split(".") if not name.isdigit())
