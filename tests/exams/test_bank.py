"""Question banks and quiz settings, authored by the course's base (SPEC §1, §5).

Only the approved admin of the base that owns the course writes its questions, imports them and sets the quiz;
everyone else is refused with nothing changed. A spreadsheet is checked row by row with the page form's rules;
a file with any problem imports nothing and names every problem by row and column.
"""

from __future__ import annotations

import io
import zipfile

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from lms.exams.models import Question, QuestionKind, Quiz
from lms.exams.xlsx import HEADERS
from lms.extensions import db
from lms.orgs.models import OrgKind
from tests.conftest import csrf_token, login, make_org, make_user
from tests.exams import make_bank, open_quiz
from tests.player import make_published_course

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def course(tree):
    return make_published_course(tree.base_a, hours=(1.0,))


@pytest.fixture
def base_b(tree):
    org = make_org(OrgKind.BASE, tree.dept_b)
    return make_user(org, login="admin_base_b")


def bank_url(course) -> str:
    return f"/base/courses/{course.id}/quiz"


def questions_of(course) -> list[tuple]:
    db.session.rollback()
    return db.session.execute(sa.select(Question.kind, Question.prompt, Question.options, Question.correct)
                              .where(Question.course_id == course.id).order_by(Question.id)).all()


def workbook_bytes(rows, header=HEADERS, template: bytes | None = None) -> bytes:
    """Fill the downloaded template (or a fresh workbook) with rows, as a person would in Excel."""
    workbook = load_workbook(io.BytesIO(template)) if template else Workbook()
    sheet = workbook["题目"] if template else workbook.active
    if not template:
        sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(client, course, data: bytes, filename: str = "题库.xlsx"):
    token = csrf_token(client, bank_url(course))
    # Encoded in memory: the test client would spool a large body to a temporary file it never closes.
    boundary, body = encode_multipart({"csrf_token": token,
                                       "file": FileStorage(io.BytesIO(data), filename=filename, content_type=XLSX)})
    return client.post(f"/base/courses/{course.id}/questions/import", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


GOOD_ROWS = [
    ("单选题", "继续教育每年不少于多少学时？", "30", "60", 90, "120", None, None, None, None, "C"),
    ("多选题", "继续教育包括哪些科目？", "公需科目", "专业科目", "娱乐科目", None, None, None, None, None, "A,B"),
    ("判断题", "学时可以结转到下一年度。", None, None, None, None, None, None, None, None, "错误"),
]


# ------------------------------------------------------------------------------------------------ import


def test_the_downloaded_template_filled_in_imports_every_row(client, tree, course):
    login(client, tree.admins["base_a"])
    template = client.get(f"/base/courses/{course.id}/questions/template.xlsx")
    assert template.status_code == 200 and template.mimetype == XLSX
    response = upload(client, course, workbook_bytes(GOOD_ROWS, template=template.data))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert questions_of(course) == [
        (QuestionKind.SINGLE, "继续教育每年不少于多少学时？", ["30", "60", "90", "120"], [2]),
        (QuestionKind.MULTIPLE, "继续教育包括哪些科目？", ["公需科目", "专业科目", "娱乐科目"], [0, 1]),
        (QuestionKind.TRUE_FALSE, "学时可以结转到下一年度。", ["正确", "错误"], [1]),
    ]
    page = client.get(bank_url(course)).get_data(as_text=True)
    assert "已导入 3 道题目" in page and "题库（共 3 题）" in page


def test_a_file_with_bad_rows_imports_nothing_and_names_each_row_and_column(client, tree, course):
    make_bank(course, singles=1, multiples=0, true_falses=0)
    before = questions_of(course)
    rows = [
        GOOD_ROWS[0],                                                                      # row 2: fine
        ("填空题", "题干", "甲", "乙", None, None, None, None, None, None, "A"),            # row 3: kind
        ("单选题", "", "甲", "乙", None, None, None, None, None, None, "A"),                # row 4: prompt
        ("单选题", "答案越界", "甲", "乙", "丙", None, None, None, None, None, "E"),         # row 5: answer
        ("多选题", "只有一个答案", "甲", "乙", "丙", None, None, None, None, None, "B"),      # row 6: answer
        ("判断题", "看不懂的答案", None, None, None, None, None, None, None, None, "也许"),   # row 7: answer
        ("单选题", "选项有空缺", "甲", None, "丙", None, None, None, None, None, "A"),        # row 8: option B
        ("单选题", "选项重复", "甲", "甲", None, None, None, None, None, None, "A"),         # row 9: option B
        GOOD_ROWS[0],                                                                      # row 10: repeats row 2
    ]
    login(client, tree.admins["base_a"])
    response = upload(client, course, workbook_bytes(rows))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "导入失败：文件中有 8 处错误，未导入任何题目" in page
    for expected in ("第 3 行</td><td data-label=\"列\">A 列（题型）", "题型“填空题”无法识别",
                     "第 4 行</td><td data-label=\"列\">B 列（题干）", "请填写题干",
                     "第 5 行</td><td data-label=\"列\">K 列（正确答案）",
                     "正确答案中的 E 不在选项中（本题只有 A–C 共 3 个选项）",
                     "第 6 行", "多选题至少要有两个正确答案", "第 7 行", "判断题的正确答案“也许”无法识别",
                     "第 8 行</td><td data-label=\"列\">D 列（选项B）", "选项B为空，但后面还有选项",
                     "第 9 行</td><td data-label=\"列\">D 列（选项B）", "选项B与选项A相同",
                     "第 10 行", "与第 2 行的题目重复"):
        assert expected in page, expected
    assert questions_of(course) == before  # the good row 2 was not imported either


def test_a_file_repeating_a_question_already_in_the_bank_imports_nothing(client, tree, course):
    login(client, tree.admins["base_a"])
    assert upload(client, course, workbook_bytes(GOOD_ROWS[:1])).status_code == 302
    response = upload(client, course, workbook_bytes(GOOD_ROWS))
    assert response.status_code == 422 and "题库中已有题干相同的同类题目" in response.get_data(as_text=True)
    assert len(questions_of(course)) == 1


def _zip_of(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


NOT_A_TEMPLATE = [
    (b"not a spreadsheet at all", "题库.xlsx", "文件不是有效的 .xlsx 文件"),
    (b"PK\x03\x04 truncated zip", "题库.xlsx", "文件不是有效的 .xlsx 文件"),
    (_zip_of("hello.txt", b"hi"), "题库.xlsx", "文件不是有效的 .xlsx 文件"),
    (b"\xd0\xcf\x11\xe0 old excel", "题库.xls", "只能导入 .xlsx 格式"),
    ("题型,题干\n单选题,x".encode(), "题库.csv", "只能导入 .xlsx 格式"),
    (b"", "题库.xlsx", "请选择要导入的 .xlsx 文件"),
    (b"PK" + b"\0" * (2 * 1024 * 1024), "题库.xlsx", "每个文件不超过 2 MB"),
    (workbook_bytes([GOOD_ROWS[0]], header=["题目", "答案"]), "题库.xlsx", "第 1 行应为表头"),
    (workbook_bytes([]), "题库.xlsx", "文件中没有题目"),
    (_zip_of("xl/sharedStrings.xml", b" " * (41 * 1024 * 1024)), "题库.xlsx", "文件解压后过大"),
]


def test_files_that_are_not_a_filled_in_template_get_a_clear_error(client, tree, course):
    login(client, tree.admins["base_a"])
    for data, filename, message in NOT_A_TEMPLATE:
        response = upload(client, course, data, filename)
        assert response.status_code == 422, message
        assert message in response.get_data(as_text=True)
    assert questions_of(course) == []


# ------------------------------------------------------------------------------------------------ permissions


def _refused_everywhere(client, course, question, expected: int) -> None:
    token = csrf_token(client, "/login" if expected == 302 else "/password")
    requests = [
        client.get(bank_url(course)),
        client.get(f"/base/courses/{course.id}/questions/template.xlsx"),
        client.post(f"/base/courses/{course.id}/questions/new",
                    data={"csrf_token": token, "kind": "single", "prompt": "入侵", "option_a": "甲", "option_b": "乙",
                          "answer": "A"}),
        client.post(f"/base/questions/{question.id}/edit",
                    data={"csrf_token": token, "kind": "single", "prompt": "改掉", "option_a": "甲", "option_b": "乙",
                          "answer": "B"}),
        client.post(f"/base/questions/{question.id}/delete", data={"csrf_token": token}),
        client.post(f"/base/courses/{course.id}/questions/import", content_type="multipart/form-data",
                    data={"csrf_token": token, "file": (io.BytesIO(workbook_bytes(GOOD_ROWS)), "题库.xlsx")}),
        client.post(f"/base/courses/{course.id}/quiz/settings",
                    data={"csrf_token": token, "draw_count": "1", "pass_percent": "1", "time_limit_minutes": "1",
                          "max_attempts": "1", "wait_minutes": "0"}),
        client.post(f"/base/courses/{course.id}/quiz/open", data={"csrf_token": token}),
    ]
    assert [r.status_code for r in requests] == [expected] * len(requests)


def test_only_the_courses_own_base_admin_authors_its_bank(app, tree, course, base_b):
    question = make_bank(course, singles=1, multiples=0, true_falses=0)[0]
    for user in (base_b, tree.learner_a, tree.admins["unit_a"], None):
        client = app.test_client()  # a browser of its own for each
        if user:
            login(client, user)
        _refused_everywhere(client, course, question, expected=302 if user is None else 403)  # 302: to log in
    rows = questions_of(course)
    assert [(r.prompt, r.correct) for r in rows] == [(question.prompt, question.correct)]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Quiz)) == 0


# ------------------------------------------------------------------------------------------------ page form


def test_a_question_is_written_edited_and_deleted_in_the_page_form(client, tree, course):
    login(client, tree.admins["base_a"])
    url = f"/base/courses/{course.id}/questions/new"
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "kind": "multiple", "prompt": "哪些对？",
                                      "option_a": "甲", "option_b": "乙", "option_c": "丙", "answer": "ac"})
    assert response.status_code == 302
    [question] = db.session.scalars(sa.select(Question)).all()
    assert (question.kind, question.options, question.correct) == (QuestionKind.MULTIPLE, ["甲", "乙", "丙"], [0, 2])
    edit = f"/base/questions/{question.id}/edit"
    form = client.get(edit).get_data(as_text=True)
    assert 'value="AC"' in form and 'value="丙"' in form
    response = client.post(edit, data={"csrf_token": csrf_token(client, edit), "kind": "true_false",
                                       "prompt": "改为判断题", "answer": "对"})
    assert response.status_code == 302
    db.session.refresh(question)
    assert (question.kind, question.options, question.correct) == (QuestionKind.TRUE_FALSE, ["正确", "错误"], [0])
    response = client.post(f"/base/questions/{question.id}/delete", data={"csrf_token": csrf_token(client, edit)})
    assert response.status_code == 302 and questions_of(course) == []


BAD_QUESTIONS = [
    ({"kind": "single", "prompt": "x", "option_a": "甲", "option_b": "乙", "answer": "C"}, "正确答案中的 C 不在选项中"),
    ({"kind": "single", "prompt": "x", "option_a": "甲", "option_b": "乙", "answer": "AB"}, "单选题只能有一个正确答案"),
    ({"kind": "single", "prompt": "x", "option_a": "甲", "answer": "A"}, "单选题至少需要 2 个选项"),
    ({"kind": "multiple", "prompt": "x", "option_a": "甲", "option_b": "乙", "answer": "AB"},
     "多选题至少需要 3 个选项"),
    ({"kind": "true_false", "prompt": "x", "option_a": "甲", "answer": "正确"}, "判断题不填写选项"),
    ({"kind": "essay", "prompt": "x", "answer": "A"}, "题型“essay”无法识别"),
    ({"kind": "single", "prompt": "x" * 1001, "option_a": "甲", "option_b": "乙", "answer": "A"},
     "题干不能超过 1000 个字符"),
]


def test_a_bad_question_is_refused_with_the_reason_and_nothing_saved(client, tree, course):
    login(client, tree.admins["base_a"])
    url = f"/base/courses/{course.id}/questions/new"
    token = csrf_token(client, url)
    for fields, message in BAD_QUESTIONS:
        response = client.post(url, data={"csrf_token": token, **fields})
        assert response.status_code == 422, message
        assert message in response.get_data(as_text=True)
    assert questions_of(course) == []


# ------------------------------------------------------------------------------------------------ settings


def _settings(client, course, **values):
    body = {"draw_count": "3", "pass_percent": "60", "time_limit_minutes": "20", "max_attempts": "2",
            "wait_minutes": "0", **values}
    return client.post(f"/base/courses/{course.id}/quiz/settings",
                       data={"csrf_token": csrf_token(client, bank_url(course)), **body})


BAD_SETTINGS = [
    ({"draw_count": "abc"}, "每次抽题数应为整数"),
    ({"draw_count": "0"}, "每次抽题数应在 1–200 之间"),
    ({"pass_percent": "101"}, "及格分数线（百分制）应在 1–100 之间"),
    ({"time_limit_minutes": ""}, "请填写答题时限（分钟）"),
    ({"max_attempts": "-1"}, "测验次数上限应在 1–20 之间"),
    ({"wait_minutes": "1.5"}, "两次测验的间隔（分钟）应为整数"),
]


def test_bad_quiz_settings_are_refused_with_the_reason(client, tree, course):
    login(client, tree.admins["base_a"])
    for values, message in BAD_SETTINGS:
        response = _settings(client, course, **values)
        assert response.status_code == 422 and message in response.get_data(as_text=True), message
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Quiz)) == 0


def test_a_quiz_opens_only_when_the_bank_holds_the_questions_it_draws(client, tree, course):
    login(client, tree.admins["base_a"])
    token = csrf_token(client, bank_url(course))
    response = client.post(f"/base/courses/{course.id}/quiz/open", data={"csrf_token": token})
    assert response.status_code == 409 and "请先保存测验设置" in response.get_data(as_text=True)
    assert _settings(client, course, draw_count="3").status_code == 302
    response = client.post(f"/base/courses/{course.id}/quiz/open", data={"csrf_token": token})
    assert response.status_code == 409 and "题库还没有题目" in response.get_data(as_text=True)
    make_bank(course, singles=2, multiples=0, true_falses=0)
    response = client.post(f"/base/courses/{course.id}/quiz/open", data={"csrf_token": token})
    assert response.status_code == 409 and "每次抽题数（3）不能超过题库题目数（2）" in response.get_data(as_text=True)
    assert _settings(client, course, draw_count="2").status_code == 302
    assert client.post(f"/base/courses/{course.id}/quiz/open", data={"csrf_token": token}).status_code == 302
    assert db.session.scalar(sa.select(Quiz.is_open)) is True
    # Once open, neither the settings nor a deletion may leave it drawing more than the bank holds.
    response = _settings(client, course, draw_count="3")
    assert response.status_code == 422 and "不能超过题库题目数（2）" in response.get_data(as_text=True)
    question_id = db.session.scalar(sa.select(Question.id).limit(1))
    response = client.post(f"/base/questions/{question_id}/delete", data={"csrf_token": token}, follow_redirects=True)
    assert "删除后题库只剩 1 题" in response.get_data(as_text=True)
    assert len(questions_of(course)) == 2 and db.session.scalar(sa.select(Quiz.draw_count)) == 2


def test_the_course_page_links_to_the_bank(client, tree, course):
    open_quiz(course, draw_count=1)
    login(client, tree.admins["base_a"])
    page = client.get(f"/base/courses/{course.id}").get_data(as_text=True)
    assert f'href="{bank_url(course)}"' in page
