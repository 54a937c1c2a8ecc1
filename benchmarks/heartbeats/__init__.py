"""The heartbeat benchmark: ``python -m benchmarks.heartbeats`` (see ``__main__.py``)."""
