"""``flask --app lms notifications …``: the deadline reminder round (run daily) and resending failed SMS."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import AppGroup

from lms.notices.notifications import resend_failed
from lms.notices.reminders import remind_deadline

notifications_cli = AppGroup("notifications", help="消息中心：学时截止提醒、重发失败的短信。")


@notifications_cli.command("remind-deadline")
@click.option("--year", type=int, default=None, help="年度（默认今年）。")
@click.option("--days-before", type=int, default=None,
              help="指定提醒轮次（截止前几天）；不指定则按配置判断今天是否该提醒。")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), default=None, help="按这一天计算（默认今天，北京时间）。")
def remind_deadline_command(year: int | None, days_before: int | None, today: dt.datetime | None) -> None:
    """Remind every approved learner still short of the year's hours, once per round; safe to run again."""
    result = remind_deadline(today.date() if today else None, year=year, days_before=days_before)
    if result.round is None:
        click.echo("今天不是学时截止提醒日，未发送提醒。")
        return
    click.echo(f"{result.round.year} 年度截止前 {result.round.days_before} 天提醒：已提醒 {result.notified} 人，"
               f"其中 {result.texted} 人同时发送短信。")


@notifications_cli.command("resend-failed")
def resend_failed_command() -> None:
    """Queue every SMS whose attempts all failed once more (after the provider is back)."""
    click.echo(f"已重新排队发送失败的短信 {resend_failed()} 条。")
