"""Settings, read from the environment in this one place.

Every value has a default that runs casemgmt on its embedded servers, so a bare machine needs no
configuration at all; production sets the URLs.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

import limits

if TYPE_CHECKING:
    from collections.abc import Mapping


# Far above what an agent's screen or an intake channel sends; a script gone wrong meets it.
DEFAULT_RATE_LIMIT: Final = "50/second;1500/minute"
DEFAULT_AUTH_FAILURE_LIMIT: Final = "10/minute;100/hour"


class SettingsError(ValueError):
    """A setting is present but unusable; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    """What casemgmt needs to know about its surroundings."""

    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = field(default_factory=lambda: Path("var"))
    sla_policy_path: Path | None = None
    cipher_key: str | None = None
    audit_key: str | None = None  # base64; seals the event store's hash chains (chain.py)
    redis_key_prefix: str = "casemgmt"
    pool_size: int = 8
    max_request_bytes: int = 1_000_000
    # How long before its intake a case may have been received (a letter logged late); older is
    # taken for a typing mistake and refused.
    oldest_intake_days: int = 3653
    # Requests per token (per client address without one), and failed authentications per client
    # address, in the `limits` notation ("50/second;1500/minute"); None: no limit. The
    # environment's defaults (`from_env`) are on; settings made in code set what they need.
    rate_limit: str | None = None
    auth_failure_limit: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        policy = env.get("CASEMGMT_SLA_POLICY") or None
        return cls(
            database_url=_url(env, "CASEMGMT_DATABASE_URL", ("postgresql://", "postgres://")),
            redis_url=_url(env, "CASEMGMT_REDIS_URL", ("redis://", "rediss://", "unix://")),
            data_dir=Path(env.get("CASEMGMT_DATA_DIR") or "var"),
            sla_policy_path=Path(policy) if policy else None,
            cipher_key=env.get("CASEMGMT_CIPHER_KEY") or None,
            audit_key=_audit_key(env, "CASEMGMT_AUDIT_KEY"),
            redis_key_prefix=_key_prefix(env, "CASEMGMT_REDIS_PREFIX", "casemgmt"),
            pool_size=_positive_int(env, "CASEMGMT_POOL_SIZE", 8),
            max_request_bytes=_positive_int(env, "CASEMGMT_MAX_REQUEST_BYTES", 1_000_000),
            oldest_intake_days=_positive_int(env, "CASEMGMT_OLDEST_INTAKE_DAYS", 3653),
            rate_limit=_rate_limit(env, "CASEMGMT_RATE_LIMIT", DEFAULT_RATE_LIMIT),
            auth_failure_limit=_rate_limit(
                env, "CASEMGMT_AUTH_FAILURE_LIMIT", DEFAULT_AUTH_FAILURE_LIMIT
            ),
        )


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    value = (env.get(name) or "").strip()
    if not value:
        return None
    if not value.startswith(schemes):
        raise SettingsError(
            f"{name}={value!r} is not a URL casemgmt understands; "
            f"it must start with {' or '.join(schemes)}"
        )
    return value


def _audit_key(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    if not value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) < 16:
        raise SettingsError(
            f"{name} must be at least 16 random bytes in base64 (32 are best); make one with: "
            "python -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())'"
        )
    return value


def _key_prefix(env: Mapping[str, str], name: str, default: str) -> str:
    value = (env.get(name) or "").strip()
    if not value:
        return default
    if any(char in value for char in "{}*?[] \t\n"):
        raise SettingsError(
            f"{name}={value!r} may not contain braces, wildcards or spaces; "
            "use letters, digits, '-', '_', ':' or '.'"
        )
    return value


def _rate_limit(env: Mapping[str, str], name: str, default: str) -> str | None:
    value = (env.get(name) or "").strip()
    if not value:
        return default
    if value.lower() == "off":
        return None
    try:
        limits.parse_many(value)
    except ValueError:
        raise SettingsError(
            f"{name}={value!r} is not a rate limit; write it as '50/second' or "
            "'50/second;1500/minute' (several separated by ';'), or 'off'"
        ) from None
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    return positive_int(raw, name) if raw else default


def positive_int(raw: str, name: str) -> int:
    """The whole number of at least 1 that the setting `name` gives as text."""
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} must be a whole number") from None
    if value < 1:
        raise SettingsError(f"{name}={raw!r} must be at least 1")
    return value
