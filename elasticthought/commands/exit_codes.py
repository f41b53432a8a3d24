"""Exit codes of the client commands: what happened, for scripts, from the SDK's error classes."""

from __future__ import annotations

from elasticthought.client.errors import (
    ApiError,
    BadRequest,
    Conflict,
    ConnectionFailed,
    ElasticThoughtError,
    Forbidden,
    Invalid,
    JobEnded,
    NotFound,
    ServerError,
    TooLarge,
    Unauthorized,
    UnexpectedAnswer,
    UnsupportedMedia,
    WaitTimeout,
)

OK = 0
ENDED_BADLY = 1  # a waited-for job failed or was cancelled; a datafile rejected; a dataset failed
USAGE = 2  # bad arguments, a file that is not there
NOT_FOUND = 3
AUTH = 4  # no token configured, or the server refused it (401) or the role (403)
REFUSED = 5  # the server refused the input: 400, 409, 413, 415, 422
UNAVAILABLE = 6  # unreachable, timed out, 5xx, or an answer that cannot be read
WAIT_TIMEOUT = 7  # --timeout passed before the job (or datafile, dataset) ended
INTERRUPTED = 130  # Ctrl-C

HELP = """exit codes:
  0  ok
  1  the job (datafile, dataset) ended failed, cancelled or rejected (--wait, wait)
  2  usage error (bad arguments, missing file)
  3  not found (404: no such id for this tenant)
  4  authentication: not logged in, token refused (401) or role not allowed (403)
  5  refused input: invalid (422), conflicts with the state (409), too large (413), bad request (400, 415)
  6  server unreachable, timed out, server error (5xx) or unreadable answer
  7  --timeout passed while waiting
130  interrupted"""

_BY_CLASS: tuple[tuple[type[ElasticThoughtError], int], ...] = (
    (NotFound, NOT_FOUND),
    (Unauthorized, AUTH),
    (Forbidden, AUTH),
    (Invalid, REFUSED),
    (Conflict, REFUSED),
    (TooLarge, REFUSED),
    (BadRequest, REFUSED),
    (UnsupportedMedia, REFUSED),
    (ServerError, UNAVAILABLE),
    (ConnectionFailed, UNAVAILABLE),
    (UnexpectedAnswer, UNAVAILABLE),
    (WaitTimeout, WAIT_TIMEOUT),
    (JobEnded, ENDED_BADLY),
)


def code_for(error: ElasticThoughtError) -> int:
    for cls, code in _BY_CLASS:
        if isinstance(error, cls):
            return code
    if isinstance(error, ApiError):  # a status without its own class (405, 429, ...)
        return REFUSED if error.status < 500 else UNAVAILABLE
    return UNAVAILABLE
