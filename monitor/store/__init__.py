"""The Redis boundary: the only package that talks to redis-py; its errors become StoreError.

It owns every key (``Keys``), the poller's cursors and seen ids, the alert stream (the Lua
write and the consumer-group reader), model announcements, and the console's data: team
review queues, reviewers' claims on items, verdicts (and their undo), the review lane, the
per-user index, the audit log, data-subject requests, session records and the login throttle.
"""

from monitor.store.alerts import AlertLog, WriteOutcome, reader_group
from monitor.store.announcements import announce, announcements
from monitor.store.audit import AuditLog
from monitor.store.claims import ReviewClaim, ReviewClaims
from monitor.store.client import Store
from monitor.store.connection import connect, masked_url, translate_errors
from monitor.store.cursors import Cursors
from monitor.store.data_subjects import DataSubjects
from monitor.store.decided import CommentPosition, DecidedComments
from monitor.store.decisions import Decision, Decisions, Undo
from monitor.store.keys import Keys
from monitor.store.logins import LoginThrottle
from monitor.store.review_lane import ReviewLane
from monitor.store.sessions import SessionRecords
from monitor.store.users import UserIndex
from monitor.store.verdicts import ReviewQueue, VerdictLog, score_bin

__all__ = [
    "AlertLog",
    "AuditLog",
    "CommentPosition",
    "Cursors",
    "DataSubjects",
    "DecidedComments",
    "Decision",
    "Decisions",
    "Keys",
    "LoginThrottle",
    "ReviewClaim",
    "ReviewClaims",
    "ReviewLane",
    "ReviewQueue",
    "SessionRecords",
    "Store",
    "Undo",
    "UserIndex",
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
