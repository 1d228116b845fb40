"""The read side: questions answered from the read models, never from the application.

* `case_list`: `search_cases` (filters, text search, sort, pages) over `case_summaries`;
* `work_queues`: `WorkQueues` (overviews, ordered work lists, taking the next case for a claim);
* `metrics`: counts for Prometheus.
"""

from casemgmt.queries.case_list import search_cases
from casemgmt.queries.work_queues import QueueItem, QueueOverview, TakenCase, WorkQueues

__all__ = ["QueueItem", "QueueOverview", "TakenCase", "WorkQueues", "search_cases"]
