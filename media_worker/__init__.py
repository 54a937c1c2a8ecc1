"""Media worker: validates uploaded videos and packages them as HLS in object storage (SPEC §4).

``media_worker.jobs.process_media`` is the job (``enqueue_processing`` queues it); ``probe`` and
``packaging`` hold the ffprobe checks and the ffmpeg argument builders. In production the jobs run in
``python -m media_worker`` (RQ, queue ``media``); in the embedded mode on a thread of the web process.
"""
