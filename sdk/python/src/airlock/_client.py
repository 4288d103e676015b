"""The clients: ``Airlock`` (sync) and ``AsyncAirlock`` (async), one surface."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ._base import Config, Request
from ._resources import (
    AsyncInterpreters,
    AsyncKeys,
    AsyncSecrets,
    AsyncSessions,
    Interpreters,
    Keys,
    Secrets,
    Sessions,
)
from ._transport import AsyncTransport, SyncTransport

__all__ = ["Airlock", "AsyncAirlock"]


class Airlock:
    """A client of an Airlock daemon.

    ``url`` defaults to ``$AIRLOCK_URL`` (else http://127.0.0.1:8470) and ``api_key`` to
    ``$AIRLOCK_API_KEY``. ``timeout`` is the default wait for an answer in seconds (runs of
    code wait for their own limit instead); ``max_retries`` applies only where a retry can't
    do the work twice (refused connections; idempotent requests that got a 5xx).
    ``AIRLOCK_CA_CERT`` names a CA file for an https:// daemon with its own certificate.

    ::

        from airlock import Airlock

        with Airlock() as client, client.sessions.create() as session:
            print(session.run_code("21 * 2").text)  # 42
    """

    def __init__(self, *, url: str | None = None, api_key: str | None = None, timeout: float | None = None,
                 max_retries: int | None = None, headers: Mapping[str, str] | None = None,
                 http_client: httpx.Client | None = None) -> None:
        self._config = Config.resolve(url, api_key, timeout, max_retries, headers)
        self._transport = SyncTransport(self._config, http_client)
        self.sessions = Sessions(self._transport)
        self.interpreters = Interpreters(self._transport)
        self.secrets = Secrets(self._transport)
        self.keys = Keys(self._transport)

    @property
    def url(self) -> str:
        return self._config.base_url

    def health(self, *, request_timeout: float | None = None) -> bool:
        """Whether the daemon is ready to start sessions (``/readyz``)."""
        self._transport.request(Request("GET", "/readyz", timeout=request_timeout))
        return True

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Airlock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "Airlock(url=%r)" % self.url


class AsyncAirlock:
    """The async client: the same surface as ``Airlock``, every call awaited.

    ::

        async with AsyncAirlock() as client:
            async with await client.sessions.create() as session:
                execution = await session.run_code("21 * 2")
    """

    def __init__(self, *, url: str | None = None, api_key: str | None = None, timeout: float | None = None,
                 max_retries: int | None = None, headers: Mapping[str, str] | None = None,
                 http_client: httpx.AsyncClient | None = None) -> None:
        self._config = Config.resolve(url, api_key, timeout, max_retries, headers)
        self._transport = AsyncTransport(self._config, http_client)
        self.sessions = AsyncSessions(self._transport)
        self.interpreters = AsyncInterpreters(self._transport)
        self.secrets = AsyncSecrets(self._transport)
        self.keys = AsyncKeys(self._transport)

    @property
    def url(self) -> str:
        return self._config.base_url

    async def health(self, *, request_timeout: float | None = None) -> bool:
        await self._transport.request(Request("GET", "/readyz", timeout=request_timeout))
        return True

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> AsyncAirlock:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return "AsyncAirlock(url=%r)" % self.url
