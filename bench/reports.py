"""How fast the reports are read over a year of cases, and whether their projection keeps up.

In one run, on databases of its own (created on the server named, migrated, dropped at the end):

* **summary**: `casemgmt.queries.reports.summary` (what GET /api/v1/reports/summary answers)
  grouped by channel, unit and month, over the `--cases` cases received in a year: p50 and p99
  latency (of `--rounds` calls, so p99 is the slowest call or close to it), taking turns with a
  baseline, a plain `SELECT channel, unit, month, count(*) … GROUP BY` over the same rows: the
  least any report grouped that way can cost. The two are checked to find the same groups with
  the same counts. The target (p50 under 500 ms) is for 1,000,000 cases and is not judged over
  fewer. `--explain` prints the plan of the summary's query as it ran.

  The rows of `report_cases` are **synthetic**: the report reads that table and nothing else,
  and a million cases through the application would take hours, where one INSERT … SELECT over
  generate_series writes them in under a minute. They are drawn with a fixed seed from
  plausible mixes: the seven channels (the phone line first), the centre and the 63 provincial
  offices (`PROVINCIAL_UNITS`, the two big cities busiest), the insurance lines and inquiry
  kinds, priorities, 640 agents, receipt spread evenly over 12 months (Asia/Ho_Chi_Minh),
  statuses by age (the last fortnight's cases more often open), the clocks' working seconds
  around the built-in policy's targets (about 9 in 10 met), reopens, transfers, escalations and
  merges, surveys after resolution, a third of them answered, 85 % of the ratings 4 or 5;
* **analysis**: `casemgmt.queries.analysis.analysis` (GET /api/v1/reports/analysis) of the
  cases received in the year's last `--analysis-months` months (one by default: a whole year
  takes minutes a call over a million cases, mostly looking for repeat contacts; 12 s over
  100,000 on a busy machine), over tables holding the whole year, taking turns with a plain
  count of the cohort it joins (`report_cases` with `analysis_cases`). Its four tables are
  synthetic too, derived in SQL from the same rows: a requester pseudonym per case (two cases
  per requester on average, a few asking every week, 5 % anonymous), the unit path with its
  transfers and loops, the stretches in each open status, a row per breached clock, and the
  terms of one of five subjects per kind (found by `subject_terms`, as the projection does);
* **projection**: `--writers` threads open cases and work them through `CareCentre` (open,
  triage, assign, reply, sometimes ask the citizen, resolve, sometimes a rating: one command,
  one load and one save at a time, as the API gives them) as fast as the store takes them, for
  `--seconds`, while `casemgmt worker --only=reports` follows the log in a process of its own
  (as in production; in this one it would share the writers' interpreter lock). Every 10 ms
  the log's head and the projection's position are read: a head's lag is the time until a
  position covers it. The projection keeps up when its lag does not grow over the load (the
  slope of lag against time); its throughput is what it wrote from the load's start until it
  had caught up, over that time. Then, the worker stopped, the reports projection is rebuilt
  from the same log (`Projections.rebuild`: its rate is what it can take, against the rate the
  writers reached), taking turns with a rebuild of the case list and with reading and decoding
  the log alone (the floor of any rebuild).

    python bench/reports.py [--database-url postgresql://…] [--redis-url redis://…]
                            [--cases 1000000] [--rounds 30] [--analysis-rounds 5]
                            [--analysis-months 1] [--writers 8] [--seconds 30]
                            [--rebuild-rounds 3] [--only summary|analysis|projection]
                            [--explain] [--check]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import random
import statistics
import sys
import threading
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import psycopg2
import psycopg2.extras

# Run from the repository root, or from anywhere: casemgmt is imported from this checkout.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.scratch import (
    WorkerProcess,
    add_server_arguments,
    scratch_container,
    scratch_database,
)
from casemgmt.domain import (
    Action,
    Actor,
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
from casemgmt.domain.taxonomy import PROVINCIAL_UNITS
from casemgmt.persistence.datastore import Datastore
from casemgmt.policy_file import load_policy
from casemgmt.projections.base import replay
from casemgmt.queries.analysis import analysis
from casemgmt.queries.reports import GroupBy, Period, summary
from casemgmt.readmodels.subject_terms import subject_terms
from casemgmt.runtime.registry import REBUILD_BATCH_SIZE

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from casemgmt.bootstrap import Container

MILLION = 1_000_000
TARGET_SUMMARY_P50 = 0.500  # seconds, over 1,000,000 cases
TARGET_LAG_GROWTH = 0.01  # seconds of lag gained per second of load: more is falling behind
SAMPLE_SECONDS = 0.010  # how often the log's head and the projection's position are read
CATCH_UP_SECONDS = 300.0  # how long the projection may take to catch up after the load

# -- what the synthetic year looks like ----------------------------------------------------------

HANOI: Final = ZoneInfo("Asia/Ho_Chi_Minh")
YEAR: Final = Period(datetime(2025, 12, 1, tzinfo=HANOI), datetime(2026, 12, 1, tzinfo=HANOI))
REPORT_TZ: Final = "Asia/Ho_Chi_Minh"
GROUP_BY: Final = (GroupBy.CHANNEL, GroupBy.UNIT, GroupBy.MONTH)
SEED: Final = 0.2026  # setseed(): the same rows in every run
SLOTS: Final = 1000  # a draw by weight is one of this many slots, drawn evenly

CHANNELS: Final = {
    Channel.PHONE: 38,  # the hotline takes most questions
    Channel.WEB_PORTAL: 14,
    Channel.IN_PERSON: 13,
    Channel.NATIONAL_PORTAL: 12,
    Channel.EMAIL: 10,
    Channel.SOCIAL_MEDIA: 9,
    Channel.POST: 4,
}
LINES: Final = {InsuranceLine.SOCIAL: 45, InsuranceLine.HEALTH: 40, InsuranceLine.UNEMPLOYMENT: 15}
KINDS: Final = {
    InquiryKind.POLICY_QUESTION: 26,
    InquiryKind.PROCEDURE: 24,
    InquiryKind.BENEFIT_STATUS: 22,
    InquiryKind.CONTRIBUTION: 14,
    InquiryKind.COMPLAINT: 9,
    InquiryKind.SUGGESTION: 5,
}
PRIORITIES: Final = {Priority.LOW: 12, Priority.NORMAL: 68, Priority.HIGH: 15, Priority.URGENT: 5}
# The two big cities and the centre take a third of the cases; a few large provinces more than
# the rest, which share what is left evenly.
BUSY_UNITS: Final = {"hcmc": 14.0, "hanoi": 11.0, "central": 6.0, "binhduong": 3.5}
BUSY_UNITS_TOO: Final = {"dongnai": 3.0, "haiphong": 2.5, "thanhhoa": 2.0, "nghean": 2.0}
OPEN_STATUSES: Final = {
    Status.RECEIVED: 15,
    Status.TRIAGED: 20,
    Status.IN_PROGRESS: 45,
    Status.AWAITING_CITIZEN: 20,
}
SCORES: Final = {5: 58, 4: 27, 3: 7, 2: 4, 1: 4}  # 85 % satisfied (4 or 5)
AGENTS: Final = 640  # ten for each of the 64 units
RATES: Final = {
    "merged": 0.02,
    "reopened": 0.04,
    "transferred": 0.07,
    "escalated": 0.04,
    "surveyed": 0.95,  # of the resolved cases
    "answered": 0.35,  # of the surveys
    "looped": 0.2,  # of the transferred cases: back to a unit they had left
    "anonymous": 0.05,
    "waited": 0.2,  # of the resolved cases: waited for the citizen once
}
# Subjects as citizens write them, five of each kind; a case's terms are one subject's.
SUBJECTS: Final = {
    InquiryKind.POLICY_QUESTION: (
        "Hỏi về mức đóng bảo hiểm xã hội tự nguyện",
        "Điều kiện hưởng lương hưu khi nghỉ hưu sớm",
        "Chế độ thai sản cho lao động nam",
        "Mức hưởng trợ cấp ốm đau",
        "Bảo hiểm y tế hộ gia đình năm nay",
    ),
    InquiryKind.PROCEDURE: (
        "Thủ tục cấp lại sổ bảo hiểm xã hội bị mất",
        "Hồ sơ đăng ký khám chữa bệnh ban đầu",
        "Điều chỉnh ngày sinh trên thẻ bảo hiểm y tế",
        "Gia hạn thẻ BHYT qua dịch vụ công trực tuyến",
        "Đăng ký tài khoản VssID",
    ),
    InquiryKind.BENEFIT_STATUS: (
        "Trợ cấp thất nghiệp chưa được chi trả",
        "Chưa nhận được lương hưu tháng này",
        "Hồ sơ thai sản nộp đã lâu chưa giải quyết",
        "Tiền trợ cấp một lần chưa về tài khoản ngân hàng",
        "Chưa nhận được sổ BHXH",
    ),
    InquiryKind.CONTRIBUTION: (
        "Xác nhận quá trình đóng bảo hiểm",
        "Doanh nghiệp nợ đóng bảo hiểm xã hội",
        "Truy thu bảo hiểm cho người lao động",
        "Sai sót mức đóng trên tờ rời",
        "Hoàn trả tiền đóng trùng bảo hiểm y tế",
    ),
    InquiryKind.COMPLAINT: (
        "Khiếu nại về thời gian giải quyết hồ sơ",
        "Phản ánh thái độ cán bộ tiếp nhận",
        "Khiếu nại bị từ chối thanh toán viện phí",
        "Doanh nghiệp không chốt sổ khi nghỉ việc",
        "Phản ánh ứng dụng VssID bị lỗi",
    ),
    InquiryKind.SUGGESTION: (
        "Kiến nghị kéo dài giờ làm việc",
        "Đề nghị bổ sung hướng dẫn trực tuyến",
        "Kiến nghị đơn giản thủ tục hưởng chế độ",
        "Góp ý về ứng dụng VssID",
        "Đề nghị cấp thẻ BHYT điện tử",
    ),
}


def unit_weights() -> dict[str, float]:
    busy = {**BUSY_UNITS, **BUSY_UNITS_TOO}
    rest = [unit for unit in PROVINCIAL_UNITS if unit not in busy]
    share = (100.0 - sum(busy.values())) / len(rest)
    return {unit: busy.get(unit, share) for unit in PROVINCIAL_UNITS}


def slots(weights: Mapping[Any, float]) -> list[Any]:
    """`SLOTS` values, each as often as its weight says (largest remainders): one slot drawn
    evenly, `(slots)[1 + floor(random() * SLOTS)]` in SQL, is a draw by weight."""
    total = sum(weights.values())
    exact = {value: SLOTS * weight / total for value, weight in weights.items()}
    counts = {value: int(share) for value, share in exact.items()}
    short = SLOTS - sum(counts.values())
    for value in sorted(exact, key=lambda v: counts[v] - exact[v])[:short]:
        counts[value] += 1
    return [plain(value) for value, n in counts.items() for _ in range(n)]


def plain(value: Any) -> Any:
    """An enum member as the text stored for it; anything else as it is."""
    return value.value if isinstance(value, Enum) else value


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# -- 1. a year of synthetic cases ------------------------------------------------------------------

# Each draw takes one random() of its own in `drawn`, materialised so that a later reference to
# a column reads the draw instead of drawing again. Working seconds are exponential around the
# policy's targets (`vn-default-2026.1`): 2, 4 or 8 working hours to a first response, 1, 3, 5
# or 10 working days (of 7.5 hours) to resolve; a working second is about 4.5 wall seconds.
_REPORT_CASES: Final = """
WITH drawn AS MATERIALIZED (
    SELECT md5('bench-case-' || g)::uuid AS case_id,
           %(start)s::timestamptz + random() * (%(end)s::timestamptz - %(start)s::timestamptz)
               AS received_at,
           (%(channels)s::text[])[1 + floor(random() * %(slots)s)::int] AS channel,
           (%(lines)s::text[])[1 + floor(random() * %(slots)s)::int] AS line,
           (%(kinds)s::text[])[1 + floor(random() * %(slots)s)::int] AS kind,
           (%(priorities)s::text[])[1 + floor(random() * %(slots)s)::int] AS priority,
           (%(units)s::text[])[1 + floor(random() * %(slots)s)::int] AS unit,
           'agent-' || lpad((1 + floor(random() * %(agents)s))::int::text, 3, '0') AS agent,
           (%(open)s::text[])[1 + floor(random() * %(slots)s)::int] AS open_status,
           (%(scores)s::int[])[1 + floor(random() * %(slots)s)::int] AS score,
           random() AS u_status, random() AS u_first, random() AS u_resolution,
           random() AS u_reopened, random() AS u_transferred, random() AS u_escalated,
           random() AS u_surveyed, random() AS u_answered
    FROM generate_series(1, %(cases)s) AS g
), staged AS (
    SELECT *,
           CASE WHEN u_status < %(merged)s THEN 'merged'
                WHEN u_status < %(merged)s + CASE WHEN age < interval '2 days' THEN 0.6
                                                  WHEN age < interval '14 days' THEN 0.2
                                                  ELSE 0.02 END THEN open_status
                WHEN age < interval '7 days' THEN 'resolved'
                ELSE 'closed' END AS status,
           CASE priority WHEN 'urgent' THEN 7200 WHEN 'high' THEN 14400 ELSE 28800 END
               AS first_target,
           CASE WHEN priority = 'urgent' THEN 27000 WHEN priority = 'high' THEN 81000
                WHEN kind = 'complaint' THEN 270000 ELSE 135000 END AS resolution_target
    FROM (SELECT *, %(end)s::timestamptz - received_at AS age FROM drawn) AS aged
), timed AS (
    SELECT *,
           status IN ('resolved', 'closed') AS ended,
           CASE WHEN status NOT IN ('received', 'triaged')
                THEN -ln(1 - u_first) * first_target * 0.45 END AS first_seconds,
           -ln(1 - u_resolution) * resolution_target * 0.4 AS worked_seconds
    FROM staged
)
INSERT INTO report_cases (
    case_id, received_at, channel, category_line, category_kind, priority, unit, agent, status,
    ended_at, first_response_seconds, first_response_outcome, resolution_seconds,
    resolution_outcome, reopened, transferred, escalated, merged, survey_requested,
    feedback_score)
SELECT case_id, received_at, channel,
       CASE WHEN status <> 'received' THEN line END,
       CASE WHEN status <> 'received' THEN kind END,
       priority, unit,
       CASE WHEN status NOT IN ('received', 'triaged') THEN agent END,
       status,
       CASE WHEN ended OR status = 'merged'
            THEN least(received_at + worked_seconds * interval '4.5 seconds', %(end)s) END,
       first_seconds,
       CASE WHEN first_seconds > first_target THEN 'breached'
            WHEN first_seconds IS NOT NULL THEN 'met' END,
       CASE WHEN ended THEN worked_seconds END,
       CASE WHEN ended THEN CASE WHEN worked_seconds > resolution_target THEN 'breached'
                                 ELSE 'met' END
            WHEN status <> 'merged' AND age > interval '10 days' THEN 'breached' END,
       u_reopened < %(reopened)s AND status NOT IN ('received', 'triaged', 'merged'),
       u_transferred < %(transferred)s AND status <> 'received',
       u_escalated < %(escalated)s,
       status = 'merged',
       ended AND u_surveyed < %(surveyed)s,
       CASE WHEN ended AND u_surveyed < %(surveyed)s AND u_answered < %(answered)s THEN score END
FROM timed
"""

# The analysis's tables, derived from the same rows. A requester is one of cases / 2, drawn as
# random()^1.5: two cases each on average, most once or twice, a few (an employer's HR desk)
# every week (over a million cases the busiest asks about 160 times).
_ANALYSIS_CASES: Final = """
INSERT INTO analysis_cases (case_id, status, unit, since, requester, units, loop,
                            open_microseconds)
SELECT case_id, status, unit,
       coalesce(ended_at, received_at + coalesce(first_response_seconds, 0)
                                        * interval '4.5 seconds'),
       CASE WHEN u_anonymous >= %(anonymous)s
            THEN sha256(convert_to('requester-' || requester, 'UTF8')) END,
       CASE WHEN looped THEN jsonb_build_array(unit, elsewhere, unit)
            WHEN transferred THEN jsonb_build_array(elsewhere, unit)
            ELSE jsonb_build_array(unit) END,
       CASE WHEN looped THEN jsonb_build_array(unit, elsewhere, unit) END,
       (coalesce(resolution_seconds, first_response_seconds, 0) * 1000000)::bigint
FROM (SELECT *, transferred AND u_looped < %(looped)s AS looped,
             CASE WHEN pick <> unit THEN pick WHEN unit = 'central' THEN 'hanoi'
                  ELSE 'central' END AS elsewhere
      FROM (SELECT r.*, random() AS u_anonymous, random() AS u_looped,
                   floor(%(requesters)s * power(random(), 1.5))::bigint AS requester,
                   (%(units)s::text[])[1 + floor(random() * %(slots)s)::int] AS pick
            FROM report_cases r OFFSET 0) AS drawn) AS routed
"""
_STATE_TIMES: Final = """
INSERT INTO analysis_state_times (case_id, version, status, unit, working_microseconds)
SELECT r.case_id, s.version, s.status, r.unit, (s.seconds * 1000000)::bigint
FROM (SELECT *, coalesce(first_response_seconds, 3600) AS first,
             greatest(coalesce(resolution_seconds, 0) - coalesce(first_response_seconds, 0), 0)
                 AS after_first,
             status IN ('resolved', 'closed') AS ended, random() < %(waited)s AS waited
      FROM report_cases OFFSET 0) AS r
CROSS JOIN LATERAL (VALUES
    (2, 'received', r.status <> 'received', r.first * 0.2),
    (3, 'triaged', r.status NOT IN ('received', 'triaged'), r.first * 0.8),
    (6, 'awaiting_citizen', r.ended AND r.waited, r.after_first * 0.3),
    (8, 'in_progress', r.ended, r.after_first * CASE WHEN r.waited THEN 0.7 ELSE 1 END)
) AS s (version, status, over, seconds)
WHERE s.over
"""
_BREACHES: Final = """
INSERT INTO analysis_breaches (case_id, version, clock, unit)
SELECT case_id, 4, 'first_response', unit FROM report_cases
WHERE first_response_outcome = 'breached'
UNION ALL
SELECT case_id, 9, 'resolution', unit FROM report_cases WHERE resolution_outcome = 'breached'
"""
_TERMS: Final = """
INSERT INTO analysis_terms (case_id, term)
SELECT r.case_id, s.term
FROM (SELECT case_id,
             coalesce(category_kind, (%(kinds)s::text[])[1 + floor(random() * %(slots)s)::int])
                 AS kind,
             floor(random() * %(subjects)s)::int AS subject
      FROM report_cases OFFSET 0) AS r
JOIN bench_subject_terms s USING (kind, subject)
"""
ANALYSIS_TABLES: Final = (
    "analysis_cases",
    "analysis_state_times",
    "analysis_breaches",
    "analysis_terms",
)


def draws(cases: int) -> dict[str, Any]:
    """The parameters of the synthetic rows: the weighted slots, the rates, the year."""
    return {
        "cases": cases,
        "start": YEAR.start,
        "end": YEAR.end,
        "slots": SLOTS,
        "channels": slots(CHANNELS),
        "lines": slots(LINES),
        "kinds": slots(KINDS),
        "priorities": slots(PRIORITIES),
        "units": slots(unit_weights()),
        "open": slots(OPEN_STATUSES),
        "scores": slots(SCORES),
        "agents": AGENTS,
        "requesters": max(1, cases // 2),
        "subjects": min(len(subjects) for subjects in SUBJECTS.values()),
        **RATES,
    }


@dataclasses.dataclass(frozen=True)
class Filled:
    cases: int
    seconds: dict[str, float]  # table → seconds taken to fill it
    rows: dict[str, int]


def fill_report_cases(url: str, cases: int) -> Filled:
    """The synthetic year in `report_cases`, vacuumed and analysed as autovacuum would have left
    a table that old (else the first reads would set its hint bits, writing every page)."""
    params = draws(cases)
    with closing(psycopg2.connect(url)) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT setseed(%s)", [SEED])
            started = time.perf_counter()
            cursor.execute(_REPORT_CASES, params)
            cursor.execute("VACUUM (ANALYZE) report_cases")
            seconds = time.perf_counter() - started
    return Filled(cases, {"report_cases": seconds}, {"report_cases": cases})


def fill_analysis_tables(url: str, cases: int) -> Filled:
    """The analysis's four tables from `report_cases` (filled first); seconds and rows of each."""
    params = draws(cases)
    subject_rows = [
        (plain(kind), number, term)
        for kind, subjects in SUBJECTS.items()
        for number, subject in enumerate(subjects)
        for term in sorted(subject_terms(subject))
    ]
    seconds: dict[str, float] = {}
    rows: dict[str, int] = {}
    with closing(psycopg2.connect(url)) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            # Each kind's subjects, numbered, with their terms: a case draws a subject's number.
            cursor.execute("CREATE TABLE bench_subject_terms (kind text, subject int, term text)")
            psycopg2.extras.execute_values(
                cursor, "INSERT INTO bench_subject_terms VALUES %s", subject_rows
            )
            cursor.execute("SELECT setseed(%s)", [SEED])
            for table, query in zip(
                ANALYSIS_TABLES, (_ANALYSIS_CASES, _STATE_TIMES, _BREACHES, _TERMS), strict=True
            ):
                started = time.perf_counter()
                cursor.execute(query, params)
                rows[table] = cursor.rowcount
                cursor.execute(f"VACUUM (ANALYZE) {table}")
                seconds[table] = time.perf_counter() - started
    return Filled(cases, seconds, rows)


def describe_rows(url: str) -> list[str]:
    """What the synthetic year holds, in a few lines (so that a reader can judge it)."""
    with closing(psycopg2.connect(url)) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT unit), count(DISTINCT agent),"
            " min(received_at), max(received_at),"
            " avg((status IN ('resolved', 'closed'))::int),"
            " avg((first_response_outcome = 'met')::int) FILTER (WHERE first_response_outcome"
            " IS NOT NULL),"
            " avg((resolution_outcome = 'met')::int) FILTER (WHERE resolution_outcome IS NOT NULL),"
            " avg((feedback_score >= 4)::int), count(feedback_score)::float8"
            " / nullif(count(*) FILTER (WHERE survey_requested), 0)"
            " FROM report_cases"
        )
        (count, units, agents, first, last, ended, first_met, res_met, satisfied, answered) = (
            cursor.fetchone() or ()
        )
        cursor.execute(
            "SELECT channel, round(100.0 * count(*) / sum(count(*)) OVER ())"
            " FROM report_cases GROUP BY channel ORDER BY count(*) DESC"
        )
        channels = ", ".join(f"{channel} {share}%" for channel, share in cursor.fetchall())
    return [
        f"{count:,} cases received {first.astimezone(HANOI):%Y-%m-%d} to "
        f"{last.astimezone(HANOI):%Y-%m-%d} ({REPORT_TZ}), {units} units, "
        f"{agents} agents; {ended:.0%} resolved or closed",
        f"channels: {channels}",
        f"first responses met {first_met:.0%}, resolutions met {res_met:.0%}; "
        f"{answered:.0%} of surveys answered, {satisfied:.0%} of ratings 4 or 5",
    ]


# -- 2. latency of the reports, taking turns with their baselines ----------------------------------

_PLAIN_GROUP_BY: Final = (
    "SELECT channel, unit, to_char(received_at AT TIME ZONE %(tz)s, 'YYYY-MM'), count(*)"
    " FROM report_cases WHERE received_at >= %(from)s AND received_at < %(to)s GROUP BY 1, 2, 3"
)
_PLAIN_COHORT: Final = (
    "SELECT r.category_kind, count(*) FROM report_cases r JOIN analysis_cases a USING (case_id)"
    " WHERE r.received_at >= %(from)s AND r.received_at < %(to)s GROUP BY 1"
)


# The kinds of call, as the tables name them.
SUMMARY: Final = "summary by channel, unit, month"
SUMMARY_WITHOUT_JIT: Final = "  the same, JIT off (SET LOCAL)"
PLAIN_GROUP_BY: Final = "baseline: plain GROUP BY count(*)"
ANALYSIS: Final = "analysis"
PLAIN_COHORT: Final = "baseline: cohort join, count(*)"


@dataclasses.dataclass(frozen=True)
class Latencies:
    """Seconds per call of each kind, round by round (the kinds took turns in each round), and
    of its first call (cold caches)."""

    first: dict[str, float]
    seconds: dict[str, list[float]]

    def ratios(self, kind: str, baseline: str) -> list[float]:
        return [
            ours / base
            for ours, base in zip(self.seconds[kind], self.seconds[baseline], strict=True)
        ]


def measure_latencies(kinds: Sequence[tuple[str, Callable[[], object]]], rounds: int) -> Latencies:
    """Calls every kind once (cold), then `rounds` times each, in an order that rotates from
    round to round so that no kind always follows the same other one."""

    def timed(call: Callable[[], object]) -> float:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    first = {name: timed(call) for name, call in kinds}
    seconds: dict[str, list[float]] = {name: [] for name, _ in kinds}
    for turn in range(rounds):
        for name, call in [*kinds[turn % len(kinds) :], *kinds[: turn % len(kinds)]]:
            seconds[name].append(timed(call))
    return Latencies(first, seconds)


def report_period(months: int = 12) -> Period:
    """The last `months` months of the synthetic year, in the report's time zone."""
    end = YEAR.end.astimezone(HANOI)
    year, month = divmod(end.year * 12 + end.month - 1 - months, 12)
    return Period(end.replace(year=year, month=month + 1), YEAR.end, REPORT_TZ)


def summary_kinds(container: Container) -> list[tuple[str, Callable[[], object]]]:
    datastore, period = container.datastore, report_period()
    params = {"from": period.start, "to": period.end, "tz": period.timezone}
    without_jit = WithoutJit(datastore)
    return [
        (SUMMARY, lambda: summary(datastore, period, GROUP_BY)),
        (SUMMARY_WITHOUT_JIT, lambda: summary(without_jit, period, GROUP_BY)),
        (PLAIN_GROUP_BY, lambda: datastore.execute(_PLAIN_GROUP_BY, params)),
    ]


def analysis_kinds(container: Container, months: int) -> list[tuple[str, Callable[[], object]]]:
    datastore, period, policy = container.datastore, report_period(months), load_policy(None)
    params = {"from": period.start, "to": period.end}
    return [
        (ANALYSIS, lambda: analysis(datastore, period, policy)),
        (PLAIN_COHORT, lambda: datastore.execute(_PLAIN_COHORT, params)),
    ]


def same_groups(container: Container) -> tuple[int, bool]:
    """The summary's groups and the plain GROUP BY's: how many, and whether they are the same
    groups with the same counts (so both read the same rows the same way)."""
    period = report_period()
    report = summary(container.datastore, period, GROUP_BY)
    ours = {
        (g["key"]["channel"], g["key"]["unit"], g["key"]["month"]): g["received"]
        for g in report["groups"]
    }
    params = {"from": period.start, "to": period.end, "tz": period.timezone}
    plain = {(c, u, m): n for c, u, m, n in container.datastore.execute(_PLAIN_GROUP_BY, params)}
    return len(ours), ours == plain and report["total"]["received"] == sum(plain.values())


class WithoutJit(Datastore):
    """The container's datastore with PostgreSQL's JIT compilation off for each query (`SET
    LOCAL`, in the implicit transaction of the same round trip). Over a million rows the summary's
    plan costs enough for the server to compile it first, with inlining and optimisation: this
    kind tells what that compiling costs or saves, on the machine the bench runs on."""

    def __init__(self, datastore: Datastore) -> None:
        super().__init__(datastore.pool, schema=datastore.schema)

    def execute(self, query: str, params: Any = None, *, retries: int = 3) -> list[tuple[Any, ...]]:
        return super().execute(f"SET LOCAL jit = off; {query}", params, retries=retries)


class RecordingDatastore(Datastore):
    """The container's datastore, remembering the queries it is given (for `--explain`)."""

    def __init__(self, datastore: Datastore) -> None:
        super().__init__(datastore.pool, schema=datastore.schema)
        self.queries: list[tuple[str, Any]] = []

    def execute(self, query: str, params: Any = None, *, retries: int = 3) -> list[tuple[Any, ...]]:
        self.queries.append((query, params))
        return super().execute(query, params, retries=retries)


def explain_summary(container: Container) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the summary's query as `summary` sends it."""
    recording = RecordingDatastore(container.datastore)
    summary(recording, report_period(), GROUP_BY)
    lines: list[str] = []
    for query, params in recording.queries:
        rows = container.datastore.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query}", params)
        lines += [row[0] for row in rows]
    return lines


def report_latencies(title: str, result: Latencies, baseline: str) -> None:
    print(f"\n{title}")
    print(f"   {'':<34} {'p50 ms':>8} {'p99 ms':>8} {'range ms':>17} {'first ms':>9} {'calls':>6}")
    for name, values in result.seconds.items():
        print(
            f"   {name:<34} {statistics.median(values) * 1000:>8.0f} "
            f"{percentile(values, 0.99) * 1000:>8.0f} "
            f"{min(values) * 1000:>8.0f}–{max(values) * 1000:<8.0f} "
            f"{result.first[name] * 1000:>9.0f} {len(values):>6}"
        )
    for name in result.seconds:
        if name != baseline:
            ratios = result.ratios(name, baseline)
            print(
                f"   {name.strip()} / baseline: median {statistics.median(ratios):.2f}"
                f" (rounds {min(ratios):.2f}–{max(ratios):.2f})"
            )


# -- 3. the reports projection under the load of many writers -------------------------------------

INTAKE: Final = Actor("bench-switchboard", Role.INTAKE)
SUPERVISOR: Final = Actor("bench-supervisor", Role.SUPERVISOR)
BENCH_AGENTS: Final = tuple(f"agent-{n:03d}" for n in range(1, 41))
MESSAGES: Final = (
    "Hồ sơ của ông/bà đã được chuyển đến phòng chế độ.",
    "Đề nghị ông/bà bổ sung bản sao quyết định nghỉ việc.",
    "Cơ quan bảo hiểm đã chi trả vào tài khoản ngày hôm qua.",
)


def now(actor: Actor) -> Context:
    return Context(actor, datetime.now(UTC), f"bench-{uuid.uuid4()}", "api")


class CaseWork:
    """One writer's cases, each opened and worked to resolution through `CareCentre`: one command
    and one save at a time, as the API gives them."""

    def __init__(self, container: Container, seed: int) -> None:
        self.centre = container.care_centre
        self.random = random.Random(seed)

    def pick(self, weights: Mapping[Any, float]) -> Any:
        return self.random.choices(list(weights), weights=list(weights.values()))[0]

    def one_case(self) -> None:
        kind = self.pick(KINDS)
        case, _ = self.centre.open_case(
            channel=self.pick(CHANNELS),
            subject=self.random.choice(SUBJECTS[kind]),
            requester=Requester(
                RequesterKind.CITIZEN, f"{self.random.randrange(10**10):010d}", "Nguyễn Văn An"
            ),
            ctx=now(INTAKE),
        )
        act = self.centre.act
        category = Category(self.pick(LINES), kind)
        priority, unit = self.pick(PRIORITIES), self.pick(unit_weights())
        act(
            case.id, Action.TRIAGE, now(SUPERVISOR), category=category, priority=priority, unit=unit
        )
        agent = self.random.choice(BENCH_AGENTS)
        act(case.id, Action.ASSIGN, now(SUPERVISOR), agent=agent)
        holder = Actor(agent, Role.AGENT)
        act(case.id, Action.REPLY, now(holder), message=self.random.choice(MESSAGES))
        if self.random.random() < RATES["waited"]:
            act(case.id, Action.REQUEST_INFO, now(holder), message=MESSAGES[1])
            act(case.id, Action.CITIZEN_MESSAGE, now(INTAKE), message="Tôi đã gửi bổ sung.")
        act(case.id, Action.RESOLVE, now(holder), resolution="Đã hướng dẫn", summary=None)
        if self.random.random() < RATES["answered"]:
            act(case.id, Action.FEEDBACK, now(INTAKE), score=self.pick(SCORES), comment=None)


@dataclasses.dataclass(frozen=True)
class Sample:
    at: float  # seconds since the load began
    head: int  # the log's latest notification id
    position: int  # the reports projection's


@dataclasses.dataclass(frozen=True)
class KeepingUp:
    writers: int
    seconds: float  # how long the writers wrote
    cases: int
    samples: list[Sample]

    @property
    def written(self) -> int:
        return self.samples[-1].head - self.samples[0].head

    @property
    def write_rate(self) -> float:
        return self.written / self.seconds

    @property
    def caught_up_at(self) -> float:
        return self.samples[-1].at

    @property
    def projected_rate(self) -> float:
        """Events the projection wrote from the load's start until it had caught up, per second."""
        return (self.samples[-1].position - self.samples[0].position) / self.caught_up_at

    def lags(self) -> list[tuple[float, float]]:
        """(moment, lag) of each sample taken while the writers wrote: the seconds until the
        projection's position covered the head read then."""
        lags = []
        later = 0
        for index, sample in enumerate(self.samples):
            if sample.at > self.seconds:
                break
            later = max(later, index)
            while self.samples[later].position < sample.head:
                later += 1  # the last sample's position covers every head
            lags.append((sample.at, max(0.0, self.samples[later].at - sample.at)))
        return lags

    def growth(self) -> float:
        """The slope of lag against time over the load: seconds of lag gained per second."""
        moments, lags = zip(*self.lags(), strict=True)
        return statistics.linear_regression(moments, lags).slope


def measure_keeping_up(container: Container, writers: int, seconds: float) -> KeepingUp:
    for agent in BENCH_AGENTS:  # assigning names an account
        container.accounts.add(agent, Role.AGENT)
    projections = container.projections
    reports, log = projections["reports"], projections.log
    worker = WorkerProcess(container, only=["reports"])
    try:
        worker.wait_until_ready()
        writing = threading.Event()
        writing.set()
        cases = [0] * writers
        errors: list[BaseException] = []

        def write(slot: int) -> None:
            work = CaseWork(container, seed=slot)
            try:
                while writing.is_set():
                    work.one_case()
                    cases[slot] += 1
            except BaseException as error:
                errors.append(error)
                writing.clear()

        def sample() -> Sample:
            head = log.head()
            at = time.perf_counter() - started
            return Sample(at, head, reports.position() or 0)

        threads = [threading.Thread(target=write, args=(slot,)) for slot in range(writers)]
        started = time.perf_counter()
        samples = [sample()]
        for thread in threads:
            thread.start()
        while time.perf_counter() - started < seconds and writing.is_set():
            time.sleep(SAMPLE_SECONDS)
            samples.append(sample())
        writing.clear()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        wrote = time.perf_counter() - started
        samples.append(sample())
        while samples[-1].position < samples[-1].head:
            if samples[-1].at - wrote > CATCH_UP_SECONDS:
                raise RuntimeError(f"the projection did not catch up; its log:\n{worker.tail()}")
            time.sleep(SAMPLE_SECONDS)
            samples.append(sample())
        return KeepingUp(writers, wrote, sum(cases), samples)
    finally:
        worker.stop()


@dataclasses.dataclass(frozen=True)
class Rebuilds:
    events: int
    rates: dict[str, list[float]]  # events per second, round by round

    def ratios(self, kind: str, baseline: str) -> list[float]:
        return [
            ours / base for ours, base in zip(self.rates[kind], self.rates[baseline], strict=True)
        ]


REPORTS_REBUILD: Final = "reports rebuild (Projections.rebuild)"
CASE_LIST_REBUILD: Final = "case_summaries rebuild"
READ_ONLY: Final = "reading the log only (decode, no writes)"


def measure_rebuilds(container: Container, rounds: int) -> Rebuilds:
    projections = container.projections

    def read_only() -> int:
        return replay(projections.log, lambda _: None, batch_size=REBUILD_BATCH_SIZE)[1]

    kinds: list[tuple[str, Callable[[], int]]] = [
        (REPORTS_REBUILD, lambda: projections.rebuild("reports")),
        (CASE_LIST_REBUILD, lambda: projections.rebuild("case_summaries")),
        (READ_ONLY, read_only),
    ]
    rates: dict[str, list[float]] = {name: [] for name, _ in kinds}
    events = 0
    for turn in range(rounds):
        for name, rebuild in [*kinds[turn % len(kinds) :], *kinds[: turn % len(kinds)]]:
            started = time.perf_counter()
            events = rebuild()
            rates[name].append(events / (time.perf_counter() - started))
    return Rebuilds(events, rates)


def report_keeping_up(result: KeepingUp, rebuilds: Rebuilds) -> None:
    lags = [lag for _, lag in result.lags()]
    third = max(1, len(lags) // 3)
    print(
        f"\n3. the reports projection: {result.writers} writers for {result.seconds:.0f}s "
        f"opened and worked {result.cases:,} cases through CareCentre "
        f"({result.written:,} events) while `casemgmt worker --only=reports` followed the log"
    )
    print(f"   write rate                        {result.write_rate:>9,.0f} events/s")
    print(
        f"   projected, load start to caught up {result.projected_rate:>8,.0f} events/s"
        f"   ({result.projected_rate / result.write_rate:.2f} × the write rate; caught up "
        f"{result.caught_up_at - result.seconds:.2f}s after the last write)"
    )
    print(
        f"   lag (head to position, every {SAMPLE_SECONDS * 1000:.0f} ms, {len(lags):,} samples)"
        f"  p50 {percentile(lags, 0.5) * 1000:,.0f} ms   p99 {percentile(lags, 0.99) * 1000:,.0f}"
        f" ms   max {max(lags) * 1000:,.0f} ms"
    )
    print(
        f"   lag p50 in the first third {statistics.median(lags[:third]) * 1000:,.0f} ms, "
        f"in the last third {statistics.median(lags[-third:]) * 1000:,.0f} ms; "
        f"growth {result.growth() * 1000:+.1f} ms per second of load"
    )
    rounds = len(rebuilds.rates[READ_ONLY])
    print(f"   rebuilds of the same {rebuilds.events:,} events, {rounds} rounds:")
    for name, rates in rebuilds.rates.items():
        print(
            f"   {name:<42} median {statistics.median(rates):>8,.0f} events/s"
            f"   rounds {min(rates):,.0f}–{max(rates):,.0f}"
        )
    for baseline in (READ_ONLY, CASE_LIST_REBUILD):
        ratios = rebuilds.ratios(REPORTS_REBUILD, baseline)
        print(
            f"   reports rebuild / {baseline.split(' (')[0]:<31} median "
            f"{statistics.median(ratios):>8.2f}"
            f"            rounds {min(ratios):.2f}–{max(ratios):.2f}"
        )


# -- the run ------------------------------------------------------------------------------------


def line(label: str, value: str, met: bool | None = None) -> str:
    verdict = "" if met is None else ("   met" if met else "   NOT MET")
    return f"{label:<52} {value}{verdict}"


def summarise_summary(cases: int, result: Latencies, groups: int, same: bool) -> list[bool]:
    """The target is for a million cases: over fewer it is not judged (a grouped report's time
    is not linear in its rows: the sort is not, and a small table's fixed costs weigh more)."""
    p50 = statistics.median(result.seconds[SUMMARY])
    p99 = percentile(result.seconds[SUMMARY], 0.99)
    ratio = statistics.median(result.ratios(SUMMARY, PLAIN_GROUP_BY))
    judged = cases >= MILLION
    met = p50 < TARGET_SUMMARY_P50
    print(
        line(
            f"  summary over {cases:,} cases, p50 / p99",
            f"{p50 * 1000:>8,.0f} / {p99 * 1000:,.0f} ms   target p50 < "
            f"{TARGET_SUMMARY_P50 * 1000:.0f} ms over {MILLION:,}"
            + ("" if judged else f": not judged over {cases:,}"),
            met if judged else None,
        )
    )
    print(line("  summary / plain GROUP BY", f"{ratio:>8.2f}"))
    without_jit = statistics.median(result.ratios(SUMMARY_WITHOUT_JIT, SUMMARY))
    print(line("  summary with JIT off / summary as it runs", f"{without_jit:>8.2f}"))
    print(
        line(f"  the same {groups:,} groups and counts as the plain GROUP BY", f"{same!s:>8}", same)
    )
    return [met, same] if judged else [same]


def summarise_analysis(result: Latencies, months: int, cohort: int) -> None:
    p50 = statistics.median(result.seconds[ANALYSIS])
    p99 = percentile(result.seconds[ANALYSIS], 0.99)
    ratio = statistics.median(result.ratios(ANALYSIS, PLAIN_COHORT))
    print(
        line(
            f"  analysis of {months} month(s), {cohort:,} cases, p50 / p99",
            f"{p50 * 1000:>8,.0f} / {p99 * 1000:,.0f} ms",
        )
    )
    print(line("  analysis / plain cohort count", f"{ratio:>8.2f}"))


def summarise_projection(result: KeepingUp, rebuilds: Rebuilds) -> list[bool]:
    growth = result.growth()
    met = growth <= TARGET_LAG_GROWTH
    lags = [lag for _, lag in result.lags()]
    print(
        line(
            f"  reports projection at {result.write_rate:,.0f} events/s written",
            f"{result.projected_rate:>8,.0f} events/s projected",
        )
    )
    print(
        line(
            "  lag p50 / p99",
            f"{percentile(lags, 0.5) * 1000:>8,.0f} / {percentile(lags, 0.99) * 1000:,.0f} ms",
        )
    )
    print(
        line(
            "  lag growth over the load (it keeps up)",
            f"{growth * 1000:>+8.1f} ms/s   target ≤ {TARGET_LAG_GROWTH * 1000:.0f} ms/s",
            met,
        )
    )
    rate = statistics.median(rebuilds.rates[REPORTS_REBUILD])
    print(
        line(
            "  reports rebuild (what it can take)",
            f"{rate:>8,.0f} events/s   {rate / result.write_rate:.1f} × the write rate",
        )
    )
    return [met]


@dataclasses.dataclass
class Results:
    """What the parts measured (None: not measured)."""

    cases: int
    summary: Latencies | None = None
    groups: tuple[int, bool] | None = None  # the summary's groups, and whether they matched
    analysis: Latencies | None = None
    analysis_cohort: tuple[int, int] = (0, 0)  # months, and the cases received in them
    keeping_up: KeepingUp | None = None
    rebuilds: Rebuilds | None = None


def measure_reads(args: argparse.Namespace, parts: set[str], results: Results) -> None:
    """The summary and the analysis, on a year of synthetic rows."""
    with (
        scratch_database(args.database_url, "casemgmt_bench_reports_reads") as url,
        scratch_container(url, args.redis_url) as container,
    ):
        print(f"\nfilling report_cases with {args.cases:,} synthetic cases …", flush=True)
        filled = fill_report_cases(url, args.cases)
        print(f"   written in {filled.seconds['report_cases']:.1f}s (VACUUM ANALYZE included)")
        for described in describe_rows(url):
            print(f"   {described}")
        if "summary" in parts:
            results.groups = same_groups(container)
            print(f"\nmeasuring the summary ({args.rounds} calls of each kind) …", flush=True)
            results.summary = measure_latencies(summary_kinds(container), args.rounds)
            report_latencies(
                f"1. summary grouped by channel, unit and month, {args.cases:,} cases, a year"
                f" in {REPORT_TZ}",
                results.summary,
                PLAIN_GROUP_BY,
            )
            if args.explain:
                print("\n   EXPLAIN (ANALYZE, BUFFERS) of the summary's query:")
                for plan_line in explain_summary(container):
                    print(f"   {plan_line}")
        if "analysis" in parts:
            print("\nfilling the analysis tables from report_cases …", flush=True)
            derived = fill_analysis_tables(url, args.cases)
            for table in ANALYSIS_TABLES:
                print(f"   {table}: {derived.rows[table]:,} rows in {derived.seconds[table]:.1f}s")
            period = report_period(args.analysis_months)
            [(cohort,)] = container.datastore.execute(
                "SELECT count(*) FROM report_cases WHERE received_at >= %s AND received_at < %s",
                [period.start, period.end],
            )
            results.analysis_cohort = (args.analysis_months, cohort)
            print(f"measuring the analysis ({args.analysis_rounds} calls of each kind) …")
            results.analysis = measure_latencies(
                analysis_kinds(container, args.analysis_months), args.analysis_rounds
            )
            report_latencies(
                f"2. analysis of the last {args.analysis_months} month(s): the {cohort:,} cases "
                f"received from {period.start:%Y-%m-%d}, beside {args.cases:,} in the tables",
                results.analysis,
                PLAIN_COHORT,
            )


def measure_projection(args: argparse.Namespace, results: Results) -> None:
    print(
        f"\nmeasuring the reports projection ({args.writers} writers for {args.seconds:g}s) …",
        flush=True,
    )
    with (
        scratch_database(args.database_url, "casemgmt_bench_reports_projection") as url,
        scratch_container(url, args.redis_url, pool_size=args.writers + 4) as container,
    ):
        results.keeping_up = measure_keeping_up(container, args.writers, args.seconds)
        print(f"rebuilding ({args.rebuild_rounds} rounds) …", flush=True)
        results.rebuilds = measure_rebuilds(container, args.rebuild_rounds)
    report_keeping_up(results.keeping_up, results.rebuilds)


def summarise(results: Results) -> list[bool]:
    """Prints the table of results (of the parts measured); returns whether each target was met."""
    print("\nsummary")
    checks: list[bool] = []
    if results.summary is not None and results.groups is not None:
        checks += summarise_summary(results.cases, results.summary, *results.groups)
    if results.analysis is not None:
        summarise_analysis(results.analysis, *results.analysis_cohort)
    if results.keeping_up is not None and results.rebuilds is not None:
        checks += summarise_projection(results.keeping_up, results.rebuilds)
    print()
    print("all targets met" if all(checks) else "some target NOT met")
    return checks


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    add_server_arguments(parser)
    parser.add_argument("--cases", type=int, default=MILLION, help="synthetic cases in a year")
    parser.add_argument("--rounds", type=int, default=30, help="summary calls of each kind")
    parser.add_argument(
        "--analysis-rounds", type=int, default=5, help="analysis calls of each kind"
    )
    parser.add_argument(
        "--analysis-months", type=int, default=1, help="the analysis's period: the year's last …"
    )
    parser.add_argument("--writers", type=int, default=8, help="threads writing through CareCentre")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the write load")
    parser.add_argument("--rebuild-rounds", type=int, default=3, help="rebuilds of each kind")
    parser.add_argument("--explain", action="store_true", help="print the summary's query plan")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--only",
        choices=["summary", "analysis", "projection"],
        action="append",
        help="measure only this (repeatable); everything when left out",
    )
    args = parser.parse_args(argv)
    if min(args.cases, args.rounds, args.analysis_rounds, args.writers, args.rebuild_rounds) < 1:
        parser.error("--cases, the rounds and --writers must be at least 1")
    if not 1 <= args.analysis_months <= 12:
        parser.error("--analysis-months must be 1 to 12")
    if args.seconds <= 0:
        parser.error("--seconds must be more than 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    with closing(psycopg2.connect(args.database_url)) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server_version,) = cursor.fetchone() or ("?",)
        cursor.execute("SHOW jit")
        (jit,) = cursor.fetchone() or ("?",)
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · "
        f"Python {platform.python_version()} · PostgreSQL {server_version} (jit {jit})"
    )
    parts = set(args.only or ["summary", "analysis", "projection"])
    results = Results(args.cases)
    if parts & {"summary", "analysis"}:
        measure_reads(args, parts, results)
    if "projection" in parts:
        measure_projection(args, results)
    checks = summarise(results)
    return 0 if all(checks) or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
