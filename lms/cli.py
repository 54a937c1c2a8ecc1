"""Command-line tasks: ``flask --app lms demo-data``."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask

from lms.extensions import db


def register_cli(app: Flask) -> None:
    """Attach the project's commands to ``flask``."""
    from lms.interop.cli import api_clients_cli
    from lms.notices.cli import notifications_cli
    from lms.notify.cli import sms_cli
    from lms.tracking.cli import tracking_cli
    from lms.transfers.cli import transfers_cli

    app.cli.add_command(notifications_cli)
    app.cli.add_command(api_clients_cli)
    app.cli.add_command(sms_cli)
    app.cli.add_command(tracking_cli)
    app.cli.add_command(transfers_cli)

    @app.cli.command("demo-data")
    @click.option("--url", default="http://127.0.0.1:5000", help="The address printed for people to open.")
    def demo_data(url: str) -> None:
        """Create the demo organisation tree and accounts (idempotent) and print the logins."""
        from lms.accounts.models import User
        from lms.demo import (
            COUNTY_LEARNER_LOGIN,
            DEMO_PASSWORD,
            HELD_LEARNER_LOGIN,
            seed_demo_addresses,
            seed_demo_courses,
            seed_demo_data,
            seed_demo_declarations,
            seed_demo_held_attempt,
            seed_demo_held_session,
            seed_demo_hunan,
            seed_demo_notices,
            seed_demo_person_change,
            seed_demo_quizzes,
            seed_demo_staff_progress,
            seed_demo_structure,
            seed_demo_transfer_request,
        )

        logins = seed_demo_data()
        db.session.commit()
        base_admin = db.session.scalar(sa.select(User).where(User.login == "base_admin"))
        click.echo("示例课程：生成并处理演示视频（首次约需一两分钟）…")
        for title in seed_demo_courses(base_admin):
            click.echo(f"  已发布：{title}")
        for title in seed_demo_quizzes(base_admin):
            click.echo(f"  已开放测验：{title}")
        learner, unit_admin, dept_admin = (db.session.scalar(sa.select(User).where(User.login == login))
                                           for login in (logins[-1].login, "unit_admin", "dept_admin"))
        from lms.plans.demo import seed_demo_course_vetting, seed_demo_material, seed_demo_plan

        for title in seed_demo_course_vetting(dept_admin):
            click.echo(f"  主管部门已审核通过课程：{title}")
        for line in (seed_demo_plan(base_admin), seed_demo_material(dept_admin)):
            if line:
                click.echo(f"  {line}")
        for title in seed_demo_declarations(learner, unit_admin, dept_admin):
            click.echo(f"  已备案申报：{title}")
        for line in seed_demo_hunan():
            click.echo(f"  {line}")
        for line in seed_demo_staff_progress(dept_admin):
            click.echo(f"  演示人员学时：{line}")
        transfer = seed_demo_transfer_request()
        if transfer:
            click.echo(f"  人员调转：{transfer}")
        for line in seed_demo_structure():
            click.echo(f"  {line}")
        for title in seed_demo_notices():
            click.echo(f"  已发布通知：{title}")
        from lms.plans.training_demo import seed_demo_training

        training = seed_demo_training(base_admin, keep_out={learner.login})
        if training:
            click.echo(f"  基地已申报的培训：{training}")
        change = seed_demo_person_change(learner)
        if change:
            click.echo(f"  待单位审核的信息修改：{change}")
        held_learner = db.session.scalar(sa.select(User).where(User.login == HELD_LEARNER_LOGIN))
        held = seed_demo_held_session(held_learner)
        if held:
            click.echo(f"  待审核的观看记录：{held}")
        held = seed_demo_held_session(db.session.scalar(sa.select(User).where(User.login == COUNTY_LEARNER_LOGIN)))
        if held:
            click.echo(f"  待区级审核员审核的观看记录：{held}")
        for line in seed_demo_addresses():
            click.echo(f"  已登记的单位出口地址：{line}")
        held_attempt = seed_demo_held_attempt(held_learner)
        if held_attempt:
            click.echo(f"  待审核的测验记录：{held_attempt}")
        from lms.notices.demo import seed_demo_notifications

        reminded = seed_demo_notifications()
        if reminded:
            click.echo(f"  消息：{reminded}")
        click.echo(f"\n演示数据已就绪。打开 {url} ，所有演示账号的密码都是：{DEMO_PASSWORD}\n")
        width = max(len(entry.role) for entry in logins)
        for entry in logins:
            click.echo(f"  {entry.role:<{width}}  {entry.login:<20}  {entry.org}")
        click.echo("")
