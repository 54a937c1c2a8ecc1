"""``flask --app lms api-clients create|list|revoke``: register the title-review system's machine clients."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from lms.core.errors import ServiceError
from lms.extensions import db
from lms.interop import service

api_clients_cli = AppGroup("api-clients", help="职称评审系统衔接接口的客户端：登记、列出、吊销。")


@api_clients_cli.command("create")
@click.option("--name", required=True, help="客户端名称，如“省职称评审管理信息系统”。")
@click.option("--scopes", required=True, help=f"权限范围，空格或逗号分隔：{' '.join(service.SCOPES)}")
def create_command(name: str, scopes: str) -> None:
    """Register a client and print its id and secret (the secret is shown only this once)."""
    try:
        client, secret = service.create_client(name, scopes)
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    click.echo(f"client_id: {client.client_id}")
    click.echo(f"client_secret: {secret}")
    click.echo(f"scopes: {client.scopes}")
    click.echo("请立即妥善保存 client_secret：平台只保存其散列值，之后无法再次查看。")


@api_clients_cli.command("list")
def list_command() -> None:
    """List the registered clients with their scopes and whether they are revoked."""
    for client in service.clients():
        state = f"已吊销 {client.revoked_at:%Y-%m-%d %H:%M}" if client.revoked_at else "有效"
        click.echo(f"{client.client_id}\t{client.name}\t{client.scopes}\t{state}")


@api_clients_cli.command("revoke")
@click.argument("client_id")
def revoke_command(client_id: str) -> None:
    """Revoke a client: its tokens stop working at once."""
    try:
        client = service.revoke_client(client_id)
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    click.echo(f"已吊销 {client.client_id}（{client.name}）。")
