"""The care team's console: review alerts in a browser, record verdicts, watch quality.

``monitor.console.app.create_app(settings)`` builds the ASGI application (Starlette,
server-rendered Jinja2 pages, a little JavaScript for keyboard shortcuts, no build step);
``lovelorn console`` serves it with uvicorn. Every page and API needs a login; all state
lives in Redis (``monitor.store``), so several console processes can serve one team.
"""
