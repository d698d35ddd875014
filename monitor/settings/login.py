"""``console.login``: how failed logins are throttled, per account and per client address.

A password form that answers as fast as it can be asked lets anyone guess passwords (50
wrong ones took 2.2 s, and the right one was accepted straight after). After
``free_failures`` failures an account, or an address, must wait ``backoff_s`` after the
last failure before the next attempt, twice as long after each further failure, up to
``backoff_cap_s``; failures are forgotten ``forget_s`` after the last one, and a login
clears its account's count. Its own module: ``sections`` is the tree's long file.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["LoginSettings"]


class LoginSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    free_failures: Annotated[int, Field(ge=1, le=1000)] = Field(
        5, description="failed logins per account, and per address, before throttling starts"
    )
    backoff_s: Annotated[float, Field(gt=0)] = Field(
        1.0, description="the first wait; doubles with each further failure"
    )
    backoff_cap_s: Annotated[float, Field(gt=0)] = Field(900.0, description="the longest wait")
    forget_s: Annotated[float, Field(gt=0)] = Field(
        3600.0, description="failures are forgotten this long after the last one"
    )

    @model_validator(mode="after")
    def _forget_after_the_cap(self) -> Self:
        if self.forget_s < self.backoff_cap_s:
            raise ValueError(
                "console.login.forget_s must be at least backoff_cap_s, or the wait never "
                "reaches its cap"
            )
        return self
