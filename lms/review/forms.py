"""Page forms of the review (fields and CSRF only; the rules are in lms.review.service)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField

from lms.review.models import ReviewOutcome


class ReviewDecisionForm(FlaskForm):
    """Release or void one held session, or the sessions ticked in the queue, with one reason."""

    decision = SelectField("审核结果", choices=[(o.value, o.label) for o in ReviewOutcome], validate_choice=False)
    reason = TextAreaField("审核理由（必填，学员可见，最多 500 字）")
