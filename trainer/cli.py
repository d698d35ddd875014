"""Commands the trainer contributes to ``lovelorn`` (entry-point group ``lovelorn.commands``)."""

from __future__ import annotations

import asyncio

import click

from monitor.cli.context import AppContext


@click.command("demo")
@click.pass_obj
def demo(app: AppContext) -> None:
    """Start embedded services, run a sample stream through Kafka and Redis, stop everything."""
    from trainer.demo import run_demo

    asyncio.run(run_demo(app.settings))
