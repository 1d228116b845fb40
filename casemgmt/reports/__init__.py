"""Reports as documents people read and keep: pages rendered from the read side's figures.

* `analysis_html`: `render`, the analysis report (`casemgmt.queries.analysis`) as one HTML page
  with its charts drawn inline (`charts`) on a printable page (`page`).

Nothing here reads a database or a clock: a report's figures come in as a dict, a page goes out
as a string, and the command line (`casemgmt report analysis`) does the I/O.
"""
