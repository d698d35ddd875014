"""The Redis boundary: the only package that talks to redis-py; its errors become StoreError.

It owns every key (``Keys``), the poller's cursors and seen ids, the alert stream (the Lua
write and the consumer-group reader) and model announcements.
"""

from monitor.store.alerts import AlertLog, WriteOutcome, reader_group
from monitor.store.announcements import announce, announcements
from monitor.store.client import Store
from monitor.store.connection import connect, masked_url, translate_errors
from monitor.store.cursors import Cursors
from monitor.store.keys import Keys

__all__ = [
    "AlertLog",
    "Cursors",
    "Keys",
    "Store",
    "WriteOutcome",
    "announce",
    "announcements",
    "connect",
    "masked_url",
    "reader_group",
    "translate_errors",
]
