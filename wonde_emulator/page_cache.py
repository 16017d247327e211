"""Serialised answers of the Wonde API's GETs, kept until anything may have changed them.

Serialising a page of 200 schools costs far more than sending it; a benchmark that reads
the directory again and again should measure its client, not this server. An answer is
kept per path, query, host and token; every request that may change the world (a control
call, a Wonde request other than GET, a scheduled MIS change coming due) empties the cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from .messages import Request, Response

#: Answers kept at most (the directory of 100,000 schools is 500 pages of 200).
DEFAULT_SIZE = 1024


class PageCache:
    """Answers by request, least recently used dropped first."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._answers: OrderedDict[tuple, Response] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0

    @staticmethod
    def key(request: Request) -> tuple:
        """What an answer depends on: path, query, host and credentials."""
        return (
            request.path,
            tuple(request.query),
            request.host,
            request.headers.get("Authorization"),
        )

    def generation(self) -> int:
        """A number that changes whenever the cache is emptied."""
        return self._generation

    def get(self, key: tuple) -> Response | None:
        """The kept answer for ``key``, if any."""
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def put(self, key: tuple, answer: Response, generation: int) -> None:
        """Keep ``answer`` (its body as bytes), unless the cache was emptied since
        ``generation`` was read: the answer may describe a world that is gone."""
        kept = Response(answer.status, answer.payload(), answer.headers, answer.content_type)
        with self._lock:
            if generation != self._generation:
                return
            self._answers[key] = kept
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)

    def clear(self) -> None:
        """Forget every answer."""
        with self._lock:
            self._answers.clear()
            self._generation += 1
