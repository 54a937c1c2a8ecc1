"""Helpers for the JSON API tests: one bearer token per account and test (argon2 is slow on purpose)."""

from __future__ import annotations

from tests.conftest import api_token


def bearer(app, client, user) -> dict:
    """The Authorization header of the user's API token, made once per test."""
    tokens = app.extensions.setdefault("tests.api.tokens", {})
    if user.id not in tokens:
        tokens[user.id] = api_token(client, user)
    return tokens[user.id]


def error_of(response) -> dict:
    body = response.get_json()
    assert body and "error" in body, response.get_data(as_text=True)[:500]
    return body["error"]
