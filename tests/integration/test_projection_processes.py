"""The projections in child processes of their own beside a long write (`casemgmt demo`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest

from casemgmt.cli.projection_processes import ProjectionProcesses, ProjectionProcessFailed
from casemgmt.domain import Actor, Channel, Context, Requester, RequesterKind, Role
from tests.support.databases import database_url_for
from tests.support.projections import fresh_setup

if TYPE_CHECKING:
    from casemgmt.bootstrap import Container
    from casemgmt.settings import Settings


def open_cases(container: Container, count: int) -> None:
    ctx = Context(Actor("intake-children", Role.INTAKE), datetime.now(UTC), "children", "api")
    for _ in range(count):
        container.care_centre.open_case(
            channel=Channel.EMAIL,
            external_ref=str(uuid4()),
            subject="Chưa nhận được sổ BHXH",
            requester=Requester(RequesterKind.CITIZEN, uuid4().hex, "Nguyễn Văn A"),
            ctx=ctx,
        )


def test_the_children_bring_every_projection_to_the_head_and_stop_with_the_block(
    servers: Settings,
) -> None:
    with fresh_setup(servers) as setup:
        container = setup.container
        projections = container.projections
        with ProjectionProcesses(container.settings, projections.names) as children:
            open_cases(container, 5)
            children.wait_until_caught_up(projections)
            head = projections.log.head()
            assert projections.positions() == projections.heads()
            assert set(projections.positions(["case_summaries", "reports"]).values()) == {head}
        assert children.stopped()


def test_a_child_that_ends_before_it_is_told_to_is_reported(servers: Settings) -> None:
    with fresh_setup(servers) as setup:
        container = setup.container
        open_cases(container, 1)
        assert servers.database_url is not None
        # Children that cannot reach their database end at once, with an error of their own.
        unreachable = replace(
            container.settings,
            database_url=database_url_for(servers.database_url, f"missing_{uuid4().hex}"),
        )
        children = ProjectionProcesses(unreachable, container.projections.names)
        with children, pytest.raises(ProjectionProcessFailed):
            children.wait_until_caught_up(container.projections)
        assert children.stopped()
