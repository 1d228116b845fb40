"""The shapes of the read models, shared by the projections that write them and the queries.

* `case_summary`: a row of the case list;
* `work_queue_layout`: the work queues' Redis keys, order within a queue, and Lua scripts;
* `text`: text as the case search stores and compares it (diacritics folded).
"""
