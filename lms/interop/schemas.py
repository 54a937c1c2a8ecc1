"""JSON shapes of the title-review interface (documentation and output; the service checks the input)."""

from __future__ import annotations

from marshmallow import Schema, fields

TOKEN_EXAMPLE = {"access_token": "eyJjaWQiOiJ0cl8wYTFiMmMzZDRlNWY2YTdiIiwic2NwIjpbImhvdXJzOnJlYWQiXSwiZXhwIjo…",
                 "token_type": "Bearer", "expires_in": 600, "scope": "hours:read integrity:read"}

RECORD_EXAMPLE = {
    "person": {"name": "张三", "id_number": "420106198001010012", "org": "武汉市某某医院",
               "title_series": "卫生技术人员", "professional_post": "主治医师"},
    "from_year": 2025, "to_year": 2026,
    "years": [{
        "year": 2025, "rule_set": "hubei-2026",
        "requirement": {"total": "90.0", "categories": {"public": "30.0", "professional": "60.0"},
                        "article": "学时管理办法第四条"},
        "hours": {"public": "32.0", "professional": "64.0", "total": "96.0"},
        "categories": [{"category": "public", "label": "公需科目", "hours": "32.0", "minimum": "30.0", "met": True},
                       {"category": "professional", "label": "专业科目", "hours": "64.0", "minimum": "60.0",
                        "met": True}],
        "by_kind": [{"source": "course", "kind": None, "label": "网络课程", "category": "public", "hours": "32.0"},
                    {"source": "declaration", "kind": "conference", "label": "学术会议", "category": "professional",
                     "hours": "12.0"}],
        "compliance": {"met": True, "voided": False, "status": "met", "text": "2025 年度学时已达到要求"},
    }],
    "certificates": [{"year": 2025, "serial": "JX202500000042", "code": "ABCD-EFGH-JKLM-NPQR",
                      "verify_url": "https://jxjy.example.cn/verify/ABCD-EFGH-JKLM-NPQR", "verdict": "genuine",
                      "total_hours": "96.0", "issued_at": "2026-01-05T02:00:00Z"}],
    "integrity_records": [{"id": 3, "year": 2024, "declaration_id": 17, "declaration_title": "全国学术年会",
                           "reason": "会议邀请函系伪造", "article": "学时管理办法第二十一条",
                           "found_by_org": "某某主管部门",
                           "found_on": "2026-03-02", "expires_on": "2029-03-01"}],
    "deferrals": [{"year": 2025, "reason_kind": "illness", "reason_label": "病", "ends_on": "2026-06-30",
                   "state": "顺延补学中，2026-06-30 前取得的学时可计入 2025 年度", "failed": False}],
}


class TokenOut(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer(metadata={"description": "有效秒数"})
    scope = fields.String(metadata={"description": "授予的权限范围（空格分隔）"})


class RecordQuery(Schema):
    from_year = fields.String(required=True, metadata={"description": "起始年度（含）", "example": "2021"})
    to_year = fields.String(required=True, metadata={"description": "截止年度（含），至多 10 个年度",
                                                     "example": "2025"})


class PersonRecord(Schema):
    """The record is built by ``lms.interop.report``; the schema only names its parts for the document."""

    person = fields.Dict()
    from_year = fields.Integer()
    to_year = fields.Integer()
    years = fields.List(fields.Dict(), metadata={"description": "hours:read：每个年度的学时、要求与达标情况"})
    certificates = fields.List(fields.Dict(), metadata={"description": "hours:read：年度学时证明及查询码"})
    integrity_records = fields.List(fields.Dict(), metadata={"description": "integrity:read：有效期内的诚信档案"})
    deferrals = fields.List(fields.Dict(), metadata={"description": "deferrals:read：顺延补学"})
