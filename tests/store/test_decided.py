"""The comment-decision claim on the embedded Redis: the first record to claim a comment id
owns it, the owner may claim again (a re-read after a crash), every other record may not."""

from __future__ import annotations

from monitor.settings import Settings
from monitor.store import CommentPosition, DecidedComments, Store


async def test_the_first_position_owns_a_comment_and_may_claim_it_again(stack: Settings) -> None:
    first = CommentPosition("c1", "comments", 0, 10)
    copy = CommentPosition("c1", "comments", 0, 25)  # the same comment, published again
    async with Store(stack.redis) as store:
        decided = DecidedComments(store)
        assert await decided.claim([first]) == [True]
        assert await decided.claim([copy]) == [False]
        # the owner re-read (its offset was never committed): it still owns the comment
        assert await decided.claim([first]) == [True]
        assert await decided.claim([copy, first]) == [False, True]
        assert await decided.owner("c1") == "comments/0/10"
        assert await decided.owner("c2") is None


async def test_two_copies_in_one_claim_get_one_owner(stack: Settings) -> None:
    claims = [
        CommentPosition("c7", "comments", 1, 3),
        CommentPosition("c8", "comments", 1, 4),
        CommentPosition("c7", "comments", 1, 5),  # a copy of c7 in the same batch
        CommentPosition("c7", "comments", 0, 9),  # and one on another partition
    ]
    async with Store(stack.redis) as store:
        decided = DecidedComments(store)
        assert await decided.claim(claims) == [True, True, False, False]
        # the same batch again (redelivered): the same answer
        assert await decided.claim(claims) == [True, True, False, False]
        assert await decided.claim([]) == []


async def test_a_claim_lasts_the_alert_dedupe_window(stack: Settings) -> None:
    async with Store(stack.redis) as store:
        await DecidedComments(store).claim([CommentPosition("c9", "comments", 0, 1)])
        ttl = await store.redis.ttl(store.keys.comment_owner("c9"))
    assert stack.redis.alert_dedupe_ttl_s - 5 <= ttl <= stack.redis.alert_dedupe_ttl_s
