"""gunicorn settings of the web processes: ``gunicorn -c python:lms.core.gunicorn_config … 'lms:create_app()'``.

The Dockerfile and the tests' server processes both start gunicorn with this file; the command line adds the
worker class, the bind address and the connection limit.
"""

import gc

# Collect the youngest generation after 50,000 net allocations instead of 700, and the older ones 20 times more
# rarely each: a heartbeat's short-lived objects are then mostly gone before a collection sees them, instead of
# being promoted (they are alive while it waits on Redis) and making the next full collection come sooner.
GC_THRESHOLDS = (50_000, 20, 20)


def post_worker_init(worker) -> None:
    """Freeze what the worker has loaded (the app and its libraries) out of the garbage collector's reach.

    Those objects live as long as the process, yet each full collection walked them all again: under heartbeat
    load that was a 130-170 ms stop of every connection of the process every few seconds, which alone made the
    acknowledgements' p99. Frozen objects are never collected, and the full collections then walk only what was
    made since (connections, playbacks).
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
