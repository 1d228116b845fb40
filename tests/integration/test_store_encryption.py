"""With a cipher key, a citizen's name never reaches the database in a readable form."""

from __future__ import annotations

import json
import os
import uuid
from contextlib import closing
from typing import TYPE_CHECKING

import psycopg2
import pytest
from eventsourcing.application import Application
from eventsourcing.cipher import AESCipher
from eventsourcing.domain import Aggregate, event

if TYPE_CHECKING:
    from collections.abc import Iterator

SCHEMA = f"store_encryption_{uuid.uuid4().hex[:8]}"  # runs at once must not collide
NAME = "Nguyễn Văn A"
# Every readable form the name could take in the table: its text, its UTF-8 bytes as bytea shows
# them in hex, and JSON's \u escapes in case the transcoder ever escaped non-ASCII characters.
NAME_UTF8 = NAME.encode()
NAME_ESCAPED = json.dumps(NAME, ensure_ascii=True).strip('"')


class Inquiry(Aggregate):
    @event("Opened")
    def __init__(self, subject: str, requester: dict[str, str]) -> None:
        self.subject = subject
        self.requester = requester


class Desk(Application[uuid.UUID]):
    """A small application on casemgmt's persistence module."""


def _admin() -> psycopg2.extensions.connection:
    conn = psycopg2.connect(os.environ["CASEMGMT_DATABASE_URL"])
    conn.autocommit = True
    return conn


@pytest.fixture(autouse=True)
def schema() -> Iterator[None]:
    with closing(_admin()) as admin, admin.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
    yield
    with closing(_admin()) as admin, admin.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def desk(**env: str) -> Desk:
    return Desk(
        env={
            "PERSISTENCE_MODULE": "casemgmt.persistence",
            "DATABASE_URL": os.environ["CASEMGMT_DATABASE_URL"],
            "POSTGRES_SCHEMA": SCHEMA,
            **env,
        }
    )


def open_inquiry_of_the_citizen(app: Desk) -> uuid.UUID:
    inquiry = Inquiry(
        subject="Chưa nhận được sổ BHXH",
        requester={"kind": "citizen", "id": "0123456789", "name": NAME},
    )
    app.save(inquiry)
    return inquiry.id


def stored_states() -> list[bytes]:
    with closing(_admin()) as admin, admin.cursor() as cursor:
        cursor.execute(f"SELECT state FROM {SCHEMA}.desk_events")
        return [bytes(state) for (state,) in cursor.fetchall()]


def stored_rows_as_text() -> list[str]:
    with closing(_admin()) as admin, admin.cursor() as cursor:
        cursor.execute(f"SELECT t::text FROM {SCHEMA}.desk_events t")
        return [text for (text,) in cursor.fetchall()]


def readable_in_bytes(states: list[bytes]) -> bool:
    forms = (NAME_UTF8, NAME_ESCAPED.encode())
    return any(form in state for state in states for form in forms)


def readable_in_text(rows: list[str]) -> bool:
    forms = (NAME, NAME_ESCAPED, NAME_UTF8.hex())
    return any(form in row for row in rows for form in forms)


def test_with_a_cipher_key_the_name_is_stored_encrypted_and_read_back_in_clear() -> None:
    app = desk(CIPHER_TOPIC="eventsourcing.cipher:AESCipher", CIPHER_KEY=AESCipher.create_key(16))
    try:
        inquiry_id = open_inquiry_of_the_citizen(app)

        states, rows = stored_states(), stored_rows_as_text()
        assert len(states) == len(rows) == 1
        assert not readable_in_bytes(states)
        assert not readable_in_text(rows)
        assert app.repository.get(inquiry_id).requester["name"] == NAME
    finally:
        app.close()


def test_without_a_cipher_key_the_name_is_stored_readable() -> None:
    app = desk()
    try:
        open_inquiry_of_the_citizen(app)

        assert readable_in_bytes(stored_states())
        assert readable_in_text(stored_rows_as_text())
    finally:
        app.close()


def test_a_wrong_cipher_key_cannot_read_the_events() -> None:
    writer = desk(CIPHER_KEY=AESCipher.create_key(16))
    try:
        inquiry_id = open_inquiry_of_the_citizen(writer)
    finally:
        writer.close()

    reader = desk(CIPHER_KEY=AESCipher.create_key(16))
    try:
        with pytest.raises(ValueError, match="MAC check failed"):
            reader.repository.get(inquiry_id)
    finally:
        reader.close()
