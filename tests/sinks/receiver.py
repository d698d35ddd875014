"""A real HTTP endpoint for webhook tests: uvicorn on a free loopback port, answering with a
scripted list of statuses first (then 200) and keeping every request it got."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitor.embedded.processes import free_port


@dataclass
class Receiver:
    url: str = ""
    script: list[int] = field(default_factory=list)  # statuses to answer first
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    delay_s: float = 0.0

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append((dict(request.headers), body))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        status = self.script.pop(0) if self.script else 200
        return Response(status_code=status)


@contextlib.asynccontextmanager
async def receiving(**options: object) -> AsyncIterator[Receiver]:
    receiver = Receiver(**options)  # type: ignore[arg-type]
    port = free_port()
    receiver.url = f"http://127.0.0.1:{port}/hook"
    app = Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
        if task.done():
            task.result()
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
