"""Which SLA policy the open cases' clocks were last brought up to (table `sla_policy_applied`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from casemgmt.persistence.datastore import Datastore


def applied_policy(datastore: Datastore) -> str | None:
    """The fingerprint of the policy last applied to the open cases (None: never)."""
    rows = datastore.execute("SELECT fingerprint FROM sla_policy_applied")
    return str(rows[0][0]) if rows else None


def record_applied_policy(
    datastore: Datastore, fingerprint: str, version: str, at: datetime
) -> None:
    datastore.execute(
        "INSERT INTO sla_policy_applied (fingerprint, version, applied_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (singleton) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,"
        " version = EXCLUDED.version, applied_at = EXCLUDED.applied_at",
        [fingerprint, version, at],
    )
