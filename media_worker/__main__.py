"""``python -m media_worker``: run the RQ worker of the media queue."""

from media_worker import main

raise SystemExit(main())
