"""Realistic traffic on the care centre, written quickly: for tests and benchmarks of projections.

Cases are opened and worked on in memory through the Case aggregate's own commands (every rule
applies) and saved through `CareCentre.save` many cases at a time, so tens of thousands of events
take seconds rather than minutes. The same seed tells the same stories (with new case ids).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import TYPE_CHECKING, Final
from uuid import UUID, uuid4

from casemgmt.domain import (
    Action,
    Actor,
    Case,
    Category,
    Channel,
    Context,
    InquiryKind,
    InsuranceLine,
    Priority,
    Requester,
    RequesterKind,
    Role,
    Status,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from casemgmt.application import CareCentre

SUBJECTS: Final = (
    "Chưa nhận được sổ BHXH",
    "Hỏi về mức đóng bảo hiểm xã hội tự nguyện",
    "Thẻ bảo hiểm y tế bị sai ngày sinh",
    "Trợ cấp thất nghiệp chưa được chi trả",
    "Đăng ký khám chữa bệnh ban đầu",
    "Xác nhận quá trình đóng bảo hiểm",
    "Khiếu nại về thời gian giải quyết hồ sơ",
    "Zapytanie o zaświadczenie o niezaleganiu",
)
MESSAGES: Final = (
    "Đề nghị cơ quan bảo hiểm xem xét và trả lời sớm.",
    "Tôi đã nộp hồ sơ tại bưu điện tháng trước.",
    "Xin gửi kèm bản sao căn cước công dân.",
    "Cán bộ đã hướng dẫn thủ tục qua điện thoại.",
    "Hồ sơ cần bổ sung quyết định nghỉ việc.",
)
UNITS: Final = ("hanoi", "hcm", "danang", "haiphong", "cantho")
START: Final = datetime(2026, 11, 2, 7, 30, tzinfo=UTC)


class CaseTraffic:
    """Opens and works on cases of the care centre in batches, as a busy day would."""

    def __init__(self, care_centre: CareCentre, *, seed: int = 1, start: datetime = START) -> None:
        self.care_centre = care_centre
        self.random = random.Random(seed)
        self.clock = start
        self._numbers = count(1)
        self._prefix = f"WL{seed}"

    def busy_day(self, events: int, *, cases_per_save: int = 50) -> int:
        """Opens cases and works on them until at least `events` events are saved; returns them."""
        saved = 0
        while saved < events:
            cases = [self._worked_case() for _ in range(cases_per_save)]
            self._merge_some(cases)
            saved += self.save(cases)
        return saved

    def waiting_cases(
        self, number: int, *, line: InsuranceLine = InsuranceLine.HEALTH, cases_per_save: int = 200
    ) -> list[UUID]:
        """Opens `number` triaged cases nobody is assigned to, all routed alike by `line`."""
        ids: list[UUID] = []
        while len(ids) < number:
            cases = []
            for _ in range(min(cases_per_save, number - len(ids))):
                case = self.new_case()
                priority = self.random.choice(list(Priority))
                case.triage(Category(line, InquiryKind.BENEFIT_STATUS), priority, None, self._ctx())
                cases.append(case)
            self.save(cases)
            ids += [case.id for case in cases]
        return ids

    def save(self, cases: list[Case]) -> int:
        """Saves every case's new events in one transaction; returns how many there were."""
        recordings = self.care_centre.save(*cases)
        return len(recordings)

    def _worked_case(self) -> Case:
        case = self.new_case()
        story: list[Callable[[Case], None]] = [self._triage]
        if self.random.random() < 0.75:
            story += [self._assign, self._reply]
            story += self.random.sample(self._middles, self.random.randint(0, 3))
            if self.random.random() < 0.6:
                story += [self._resolve]
                story += self.random.sample(self._endings, self.random.randint(0, 2))
        for step in story:
            step(case)
        return case

    @property
    def _middles(self) -> list[Callable[[Case], None]]:
        return [self._request_info, self._note, self._escalate, self._transfer, self._unassign]

    @property
    def _endings(self) -> list[Callable[[Case], None]]:
        return [self._close, self._feedback, self._reopen]

    def new_case(self) -> Case:
        """A case just received, not saved yet: one `Received` event."""
        number = next(self._numbers)
        received = self._tick()
        return Case.receive(
            id=uuid4(),
            reference=f"{self._prefix}-{number:07d}",
            channel=self.random.choice(list(Channel)),
            subject=self.random.choice(SUBJECTS),
            body=self.random.choice(MESSAGES),
            requester=Requester(RequesterKind.CITIZEN, f"{number:010d}", "Nguyễn Văn An"),
            priority=self.random.choice(list(Priority)),
            unit=self.random.choice(UNITS),
            received_at=received,
            ctx=Context(Actor("switchboard", Role.INTAKE), received, f"wl-{number}", "api"),
        )

    def _triage(self, case: Case) -> None:
        line = self.random.choice(list(InsuranceLine))
        kind = self.random.choice(list(InquiryKind))
        priority = self.random.choice(list(Priority))
        case.triage(Category(line, kind), priority, None, self._ctx())

    def _assign(self, case: Case) -> None:
        agent = f"agent-{self.random.randint(1, 40)}"
        if case.assignee != agent:
            case.assign(agent, self._ctx())

    def _unassign(self, case: Case) -> None:
        if case.assignee is not None:
            case.unassign(self._ctx())

    def _reply(self, case: Case) -> None:
        case.reply(self.random.choice(MESSAGES), self._ctx())

    def _request_info(self, case: Case) -> None:
        if case.status is Status.IN_PROGRESS:
            case.request_info("Xin bổ sung giấy tờ.", self._ctx())
            case.citizen_message(self.random.choice(MESSAGES), self._ctx())

    def _note(self, case: Case) -> None:
        case.note("Đã gọi lại cho công dân.", self._ctx())

    def _escalate(self, case: Case) -> None:
        case.escalate("Quá hạn xử lý", self._ctx())

    def _transfer(self, case: Case) -> None:
        others = [unit for unit in UNITS if unit != case.unit]
        case.transfer(self.random.choice(others), "Thuộc thẩm quyền đơn vị khác", self._ctx())

    def _resolve(self, case: Case) -> None:
        if case.assignee is None:
            self._assign(case)
        if case.status is Status.TRIAGED:
            return
        case.resolve("Đã hướng dẫn công dân", None, self._ctx())

    def _close(self, case: Case) -> None:
        if case.status is Status.RESOLVED:
            case.close(self._ctx())

    def _feedback(self, case: Case) -> None:
        if case.status in (Status.RESOLVED, Status.CLOSED):
            case.record_feedback(self.random.randint(1, 5), None, self._ctx())

    def _reopen(self, case: Case) -> None:
        if case.status in (Status.RESOLVED, Status.CLOSED):
            case.reopen("Công dân chưa hài lòng", self._ctx(), timedelta(days=30))

    def _merge_some(self, cases: list[Case]) -> None:
        """Merges a few duplicates into another case of the same batch (saved together)."""
        for duplicate, survivor in zip(cases[::10], cases[1::10], strict=False):
            if self.random.random() < 0.3 and Action.MERGE in duplicate.allowed_actions():
                ctx = self._ctx()
                duplicate.merge(survivor.id, ctx)
                survivor.record_merge(duplicate.id, ctx)

    def _ctx(self) -> Context:
        moment = self._tick()
        return Context(Actor("agent-1", Role.AGENT), moment, f"wl-{moment.timestamp()}", "api")

    def _tick(self) -> datetime:
        self.clock += timedelta(seconds=self.random.randint(1, 90))
        return self.clock
