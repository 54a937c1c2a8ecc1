"""One place that turns errors into responses: JSON under /api/, a Chinese page elsewhere."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from lms.core.errors import ServiceError

HTTP_MESSAGES = {
    400: "请求无效。",
    401: "请先登录。",
    403: "无权访问该页面或进行该操作。",
    404: "页面或资源不存在。",
    405: "不支持该请求方法。",
    413: "提交的内容太大。",
    422: "提交的数据格式不正确。",
    429: "操作过于频繁，请稍后再试。",
    500: "服务器内部错误，请稍后再试；如持续出现请联系管理员。",
}


def wants_json() -> bool:
    """Return whether the caller is the JSON API rather than a person's browser."""
    return request.path.startswith("/api/")


def error_response(status: int, message: str, code: str, fields: dict | None = None, details: dict | None = None):
    """Render an error as JSON for the API or as a page for people; ``details`` go only into the JSON."""
    if wants_json():
        body = {"code": code, "message": message}
        if fields:
            body["fields"] = fields
        body.update(details or {})
        return jsonify(error=body), status
    return render_template("error.html", status=status, message=message, fields=fields or {}), status


def register_error_handlers(app: Flask) -> None:
    """Install the handlers for service errors, CSRF failures, rate limits and HTTP errors."""

    @app.errorhandler(ServiceError)
    def handle_service_error(error: ServiceError):
        return error_response(error.status, error.message, error.code, error.fields, error.details)

    @app.errorhandler(CSRFError)
    def handle_csrf_error(error: CSRFError):
        return error_response(400, "页面已过期或请求来源不可信（CSRF 校验失败），请刷新页面后重试。", "csrf_failed")

    @app.errorhandler(429)
    def handle_rate_limited(error):
        limit = getattr(error, "limit", None)
        detail = f"（限制：{limit.limit}）" if limit is not None else ""
        return error_response(429, f"尝试过于频繁，请稍后再试{detail}。", "rate_limited")

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        status = error.code or 500
        fields = None
        if status == 422:
            # webargs/flask-smorest attach the schema's messages per location and field.
            messages = (getattr(error, "data", None) or {}).get("messages", {})
            fields = {f: "；".join(m) if isinstance(m, list) else str(m)
                      for location in messages.values() for f, m in location.items()}
        return error_response(status, HTTP_MESSAGES.get(status, error.description or "请求失败。"),
                              f"http_{status}", fields)
