"""Errors that services raise and views turn into a status code and a message a person understands."""

from __future__ import annotations


def joined_sentences(messages) -> str:
    """Join messages that are each a full sentence into one ("甲。" + "乙。" → "甲；乙。"), without "。；"."""
    parts = [m.strip().rstrip("。；;.") for m in messages if m and m.strip()]
    return "；".join(parts) + "。" if parts else ""


class ServiceError(Exception):
    """A request the rules refuse; ``message`` is shown to the user as it is (Chinese)."""

    status = 400
    code = "bad_request"
    # More of the answer for API clients, e.g. every problem of an imported sheet.
    details: dict | None = None

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        body.update(self.details or {})
        return {"error": body}


class InvalidInput(ServiceError):
    status = 422
    code = "invalid_input"

    def __init__(self, fields: dict[str, str], message: str | None = None):
        super().__init__(message or joined_sentences(fields.values()), fields)


class NotAllowed(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"
