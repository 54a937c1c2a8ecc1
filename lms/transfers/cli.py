"""``flask transfers complete-overdue``: complete the transfers whose old unit let the answer period pass.

Run it daily (cron, a Kubernetes CronJob or the compose ``scheduler``); running it twice does nothing more.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from lms.transfers.service import complete_overdue

transfers_cli = AppGroup("transfers", help="人员调转：按规则完成调出单位逾期未答复的调入申请。")


@transfers_cli.command("complete-overdue")
def complete_overdue_command() -> None:
    """Complete every transfer asked for by a new unit whose old unit stayed silent past the rule set's period."""
    click.echo(f"已完成逾期未答复的调转 {complete_overdue()} 项。")
