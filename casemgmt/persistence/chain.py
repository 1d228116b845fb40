"""The links of the event store's hash chains, and the seals a secret key puts on them.

Every event the application recorder writes is linked twice, in the transaction that writes it:

* into its case's chain: ``case_hash_n = SHA-256("C" ‖ event_n ‖ case_hash_n-1)``;
* into the notification log's chain: ``log_hash_k = SHA-256("L" ‖ k ‖ event_k ‖ log_hash_k-1)``,
  where ``k`` is the notification id (8 bytes, big-endian) and ``k-1`` the notification before it.

``event`` is the stored event in a canonical form: its originator id (16 bytes), its version
(8 bytes, big-endian), its topic (UTF-8, after its length in 4 bytes) and its state bytes (after
their length in 4 bytes). The first link of either chain is made on 32 zero bytes. The server makes
the links (``casemgmt_chain_event`` and the append function in `schema.py` and migration 0009);
this module says the same in Python, for the verifier: it is the definition the SQL must agree with.

A chain of plain hashes shows changes made by someone who does not recompute it. With an audit
key, the recorder also seals each link, ``HMAC(key, "C" ‖ case_hash)`` and ``HMAC(key, "L" ‖
log_hash)``, in the same transaction: someone who can write the database but lacks the key can
recompute every hash after an edit, but not the seals of the hashes that changed.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from uuid import UUID

GENESIS: Final = bytes(32)  # what the first link of a chain is made on
CASE: Final = b"C"
LOG: Final = b"L"
ANCHOR: Final = b"A"
MIN_KEY_BYTES: Final = 16


def canonical(originator_id: UUID, originator_version: int, topic: str, state: bytes) -> bytes:
    """The stored event as its links hash it."""
    topic_bytes = topic.encode("utf-8")
    return b"".join(
        (
            originator_id.bytes,
            originator_version.to_bytes(8, "big", signed=True),
            len(topic_bytes).to_bytes(4, "big"),
            topic_bytes,
            len(state).to_bytes(4, "big"),
            state,
        )
    )


def case_link(event: bytes, previous: bytes) -> bytes:
    """The case chain's link of a canonical event made after `previous` (GENESIS for version 1)."""
    return hashlib.sha256(CASE + event + previous).digest()


def log_link(notification_id: int, event: bytes, previous: bytes) -> bytes:
    """The log chain's link of the event at `notification_id`, after the notification before it."""
    position = notification_id.to_bytes(8, "big", signed=True)
    return hashlib.sha256(LOG + position + event + previous).digest()


class Sealer:
    """Seals chain links with the audit key; without the key a seal cannot be made or checked."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"an audit key must have at least {MIN_KEY_BYTES} bytes")
        self._key = key

    def case_seal(self, case_hash: bytes) -> bytes:
        return self._mac(CASE + case_hash)

    def log_seal(self, log_hash: bytes) -> bytes:
        return self._mac(LOG + log_hash)

    def anchor_seal(self, notification_id: int, log_hash: bytes, at: str) -> bytes:
        """The seal of an anchor: the log's head at a moment, to be kept outside the system."""
        return self._mac(ANCHOR + notification_id.to_bytes(8, "big") + log_hash + at.encode())

    def _mac(self, message: bytes) -> bytes:
        return hmac.new(self._key, message, hashlib.sha256).digest()

    @staticmethod
    def matches(seal: bytes | None, expected: bytes) -> bool:
        return seal is not None and hmac.compare_digest(seal, expected)


__all__ = ["GENESIS", "MIN_KEY_BYTES", "Sealer", "canonical", "case_link", "log_link"]
