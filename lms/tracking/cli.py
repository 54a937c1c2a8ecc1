"""``flask tracking partitions``: keep the viewing evidence's monthly partitions ahead, and drop expired months.

Run it daily (cron, a Kubernetes CronJob or the compose ``scheduler``); running it twice does nothing more.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from lms.core.clock import china_date
from lms.core.db import utcnow
from lms.extensions import db
from lms.tracking import partitions

tracking_cli = AppGroup("tracking", help="观看记录：维护按月分区的观看证据表。")


@tracking_cli.command("partitions")
@click.option("--ahead", default=3, show_default=True, type=click.IntRange(0, 24), help="提前建好的月份数。")
def partitions_command(ahead: int) -> None:
    """Create this month's and the next months' partitions; drop months past LMS_EVIDENCE_RETENTION_MONTHS."""
    if db.engine.dialect.name != "postgresql":
        click.echo("嵌入式数据库（SQLite）不分区，无需维护。")
        return
    retention = current_app.extensions["lms.config"].evidence_retention_months
    with db.engine.begin() as connection:
        report = partitions.maintain(connection, china_date(utcnow()), ahead, retention)
    click.echo(f"新建分区 {len(report.created)} 个，从默认分区移入 {report.moved_rows} 行，"
               f"删除过期分区 {len(report.dropped)} 个。")
    for name in report.kept:
        click.echo(f"  保留 {name}：已过保存期限，但仍有未结束或待审核的观看记录。")
