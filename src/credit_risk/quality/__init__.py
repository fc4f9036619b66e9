"""Great Expectations suites that gate publication, one module per stage.

GX logs at INFO while it is imported (about 200 lines of "Skipping registering function ..."
per task); its logger is set to ERROR here, before any suite module imports it, so a gate's log
is its verdict and failed expectations.
"""

import logging

logging.getLogger("great_expectations").setLevel(logging.ERROR)
