"""One webhook POST: connect only to allowed addresses, follow no redirect, read no body, time-box it.

The receiver's answer is judged by its status alone: 2xx is success, anything else (a 3xx
included: following a redirect could lead to an address the checks never saw) a failure to retry.
The response body is never read, so a receiver cannot make the sender download anything; the
connection is closed instead of reused when a body was left unread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import aiohttp

from services.api.webhooks.resolver import AddressRefused, PublicOnlyResolver, check_address
from services.api.webhooks.urls import UrlRefused, parse_url
from shared.addresses import parse_address
from shared.domain.delivery import AttemptOutcome


class Sender:
    """Posts with one connection pool for every delivery; open with `async with Sender(...)`."""

    def __init__(self, *, timeout_s: float, allow_private: bool, max_connections: int = 100) -> None:
        self.timeout_s = timeout_s
        self.allow_private = allow_private
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Sender:
        resolver = None if self.allow_private else PublicOnlyResolver()
        connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False, limit=self.max_connections)
        self._session = aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=False,
                                              timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptOutcome:
        started = time.monotonic()
        status, error = await self._post(url, body, headers)
        return AttemptOutcome(status_code=status, error=error, duration_s=round(time.monotonic() - started, 3))

    async def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int | None, str | None]:
        assert self._session is not None, "use the sender inside `async with`"
        try:
            target = parse_url(url)
            host = target.raw_host or ""
            if not self.allow_private and parse_address(host) is not None:
                check_address(host, host)
            async with asyncio.timeout(self.timeout_s), \
                    self._session.post(target, data=body, headers=dict(headers), allow_redirects=False) as answer:
                return answer.status, _judge(answer)
        except (UrlRefused, AddressRefused) as e:
            return None, str(e)
        except TimeoutError:
            return None, f"no answer within {self.timeout_s:g} s"
        except aiohttp.ClientConnectorError as e:
            return None, f"cannot connect to {e.host}:{e.port}: {e.os_error.strerror or e.os_error}"
        except aiohttp.ClientError as e:
            return None, f"the request failed: {type(e).__name__}: {e}"


def _judge(answer: aiohttp.ClientResponse) -> str | None:
    if 200 <= answer.status < 300:
        return None
    if 300 <= answer.status < 400:
        location = answer.headers.get("Location", "")[:200]
        return f"answered {answer.status} (a redirect to {location!r}); redirects are not followed"
    return f"answered {answer.status} {answer.reason or ''}".rstrip()
