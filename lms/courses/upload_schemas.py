"""JSON shapes of the upload API (types only; the rules are checked by lms.courses.uploads)."""

from __future__ import annotations

from marshmallow import Schema, fields


class UploadStart(Schema):
    courseware_id = fields.Integer(required=True, strict=True, metadata={"description": "要上传视频的课件"})
    filename = fields.String(required=True, metadata={"description": "文件名（须为视频扩展名）"})
    size = fields.Integer(required=True, strict=True, metadata={"description": "文件总字节数"})
    content_type = fields.String(load_default="", metadata={"description": "浏览器给出的 MIME 类型，可为空"})


class UploadStarted(Schema):
    asset_id = fields.Integer(attribute="id")
    part_size = fields.Integer(metadata={"description": "除最后一个分片外，每个分片的字节数"})
    part_count = fields.Integer()
    status = fields.String(attribute="status.value")


class UploadStatus(Schema):
    asset_id = fields.Integer()
    status = fields.String(metadata={"description": "uploading、queued、processing、ready 或 failed"})
    status_label = fields.String()
    filename = fields.String()
    size = fields.Integer()
    part_size = fields.Integer()
    part_count = fields.Integer()
    parts = fields.List(fields.Integer(), metadata={"description": "已完整上传的分片序号，续传时只需发送其余分片"})
    received_bytes = fields.Integer()


class PartTarget(Schema):
    url = fields.String(metadata={"description": "向此地址 PUT 分片的原始字节（对象存储的预签名地址或本应用的地址）"})
    method = fields.String()
    part_number = fields.Integer()
    size = fields.Integer(metadata={"description": "该分片应有的字节数"})
    expires_in = fields.Integer(metadata={"description": "地址的有效秒数"})
    same_origin = fields.Boolean(metadata={"description": "地址属于本应用：请求须带登录凭据（令牌或 X-CSRFToken）"})


class PartStored(Schema):
    part_number = fields.Integer(attribute="number")
    size = fields.Integer()
    etag = fields.String()
