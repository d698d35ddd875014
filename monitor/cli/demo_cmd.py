"""``lovelorn demo``: the main job on the embedded default."""

from __future__ import annotations

import asyncio

import click

from monitor.cli.context import AppContext


@click.command("demo")
@click.pass_obj
def demo(app: AppContext) -> None:
    """The whole pipeline on embedded services, the bundled model and a bundled sample stream;
    stops everything it started."""
    from monitor.demo import run_demo
    from monitor.logs import configure_logging
    from monitor.model import import_paddle

    settings = app.settings
    configure_logging("console", "debug" if app.verbose else "warning")  # it prints its own story
    import_paddle()
    asyncio.run(run_demo(settings))


COMMANDS = [demo]
