"""The JSON module Socket.IO encodes and decodes packets with: orjson, the standard module where they differ.

python-socketio's default (engineio's wrapper of ``json``) builds a new decoder for every packet and parses every
integer in Python, to refuse numbers of more than 100 digits; with the acknowledgement's encoding that was about
a twentieth of a heartbeat's server CPU. orjson is several times faster, and reads an integer beyond 64 bits as a
float, never as a huge int (no event takes a float for an id or a count, so such values are refused as before).
What orjson will not take goes to the standard module: ``NaN`` and ``Infinity`` in a client's message (the services
then refuse the value), keys that are not strings.
"""

from __future__ import annotations

import orjson
from engineio import json as standard


def dumps(obj, **kwargs) -> str:
    """Encode compactly, non-ASCII text as UTF-8 (python-socketio asks for compact separators anyway)."""
    try:
        return orjson.dumps(obj).decode()
    except TypeError:
        return standard.dumps(obj, **kwargs)


def loads(text, **kwargs):
    """Decode a packet's JSON; what orjson refuses goes to the standard module, which accepts or refuses it."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return standard.loads(text, **kwargs)
