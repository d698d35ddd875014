"""The Redis boundary: the only package that talks to redis-py; its errors become StoreError.

It owns every key (``Keys``), the poller's cursors and seen ids, the alert stream (the Lua
write and the consumer-group reader), model announcements, and the console's data: team
review queues, verdicts, the review lane, the per-user index, the audit log and
data-subject requests.
"""

from monitor.store.alerts import AlertLog, WriteOutcome, reader_group
from monitor.store.announcements import announce, announcements
from monitor.store.client import Store
from monitor.store.connection import connect, masked_url, translate_errors
from monitor.store.cursors import Cursors
from monitor.store.keys import Keys
from monitor.store.users import AuditLog, DataSubjects, ReviewLane, UserIndex
from monitor.store.verdicts import Lane, ReviewQueue, Sampled, Verdict, VerdictLog, score_bin

__all__ = [
    "AlertLog",
    "AuditLog",
    "Cursors",
    "DataSubjects",
    "Keys",
    "Lane",
    "ReviewLane",
    "ReviewQueue",
    "Sampled",
    "Store",
    "UserIndex",
    "Verdict",
    "VerdictLog",
    "WriteOutcome",
    "announce",
    "announcements",
    "connect",
    "masked_url",
    "reader_group",
    "score_bin",
    "translate_errors",
]
