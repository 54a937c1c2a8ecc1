"""Command-line tasks: ``flask --app lms demo-data``."""

from __future__ import annotations

import click
from flask import Flask

from lms.extensions import db


def register_cli(app: Flask) -> None:
    """Attach the project's commands to ``flask``."""

    @app.cli.command("demo-data")
    @click.option("--url", default="http://127.0.0.1:5000", help="The address printed for people to open.")
    def demo_data(url: str) -> None:
        """Create the demo organisation tree and accounts (idempotent) and print the logins."""
        from lms.demo import DEMO_PASSWORD, seed_demo_data

        logins = seed_demo_data()
        db.session.commit()
        click.echo(f"\n演示数据已就绪。打开 {url} ，所有演示账号的密码都是：{DEMO_PASSWORD}\n")
        width = max(len(entry.role) for entry in logins)
        for entry in logins:
            click.echo(f"  {entry.role:<{width}}  {entry.login:<20}  {entry.org}")
        click.echo("")
