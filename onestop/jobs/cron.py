"""Periodic jobs for `rq cron` (make worker starts it beside the worker when REDIS_URL is set).

Without Redis, run `flask onestop sweep` from the system's cron instead; the sweep is idempotent, so
running it more often than needed is harmless.
"""

from rq import cron

from onestop.core.jobs import execute

cron.register(execute, queue_name="onestop", args=("sweep",), interval=60, name="onestop-sweep")
