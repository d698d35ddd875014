"""``python -m monitor`` is ``lovelorn``: child processes start without relying on PATH."""

from monitor.cli.main import main

main()
