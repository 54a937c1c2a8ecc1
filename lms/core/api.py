"""The JSON API's OpenAPI document (flask-smorest) with the project's own error format."""

from __future__ import annotations

import threading

from flask_smorest import Api
from marshmallow import Schema, fields

# Chinese messages for the schema checks a person may see through a client.
fields.Field.default_error_messages.update({
    "required": "必填项。",
    "null": "不能为空。",
    "validator_failed": "取值无效。",
})
fields.String.default_error_messages.update({"invalid": "应为文本。"})
fields.Integer.default_error_messages.update({"invalid": "应为整数。"})
fields.Boolean.default_error_messages.update({"invalid": "应为 true 或 false。"})
fields.List.default_error_messages.update({"invalid": "应为列表。"})


class LmsApi(Api):
    """flask-smorest's Api without its app-wide JSON error handler: lms.core.http owns error responses.

    The blueprints' routes are registered at once, their documentation when the OpenAPI document is first read:
    describing every endpoint's schemas is most of the cost of building an app (~0.2 s), and an app (a test's, a
    worker's, a CLI command's) mostly never serves the document.
    """

    def __init__(self, *args, **kwargs):
        self._undocumented: list[tuple] = []
        self._documenting = threading.Lock()
        super().__init__(*args, **kwargs)

    @property
    def spec(self):
        spec = self.__dict__.get("_spec")
        if spec is not None and self._undocumented:
            with self._documenting:
                while self._undocumented:
                    blp, name, parameters = self._undocumented.pop(0)
                    blp.register_views_in_doc(self, self._app, spec, name=name, parameters=parameters)
                    spec.tag({"name": name, "description": blp.description})
        return spec

    @spec.setter
    def spec(self, value):
        self.__dict__["_spec"] = value

    def register_blueprint(self, blp, *, parameters=None, **options):
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

    def _register_error_handlers(self):
        pass

    def _init_spec(self, *args, **kwargs):
        super()._init_spec(*args, **kwargs)
        self.spec.components.security_scheme(
            "bearer", {"type": "http", "scheme": "bearer", "description": "POST /api/v1/auth/token 取得的令牌"}
        )
        from lms.interop.service import SCOPES

        self.spec.components.security_scheme("interop", {
            "type": "oauth2",
            "description": "职称评审系统衔接接口：登记的客户端以客户端凭证取得短期令牌（见 docs/title-interface.md）",
            "flows": {"clientCredentials": {"tokenUrl": "/api/v1/interop/token", "scopes": dict(SCOPES)}}})


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A schema of one page of ``item``s, as ``page_body`` returns it: the items and where the page lies."""
    return Schema.from_dict({"items": fields.List(fields.Nested(item)), "total": fields.Integer(),
                             "page": fields.Integer(), "pages": fields.Integer(), "per_page": fields.Integer()},
                            name=name)


def page_body(page) -> dict:
    """The body of a ``page_schema`` from a Flask-SQLAlchemy pagination."""
    return {"items": page.items, "total": page.total, "page": page.page, "pages": page.pages,
            "per_page": page.per_page}
