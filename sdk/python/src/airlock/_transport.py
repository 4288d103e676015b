"""Sending a Request: the sync and the async way, with the same retry and error rules (_base)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx

from ._base import Config, Request, api_error, decode_json, httpx_timeout, retry_delay, should_retry, transport_error


class SyncTransport:
    def __init__(self, config: Config, http_client: httpx.Client | None = None) -> None:
        self.config = config
        self._owns = http_client is None
        self._http = http_client or httpx.Client(verify=config.verify, follow_redirects=False)

    def close(self) -> None:
        if self._owns:
            self._http.close()

    def _build(self, req: Request) -> httpx.Request:
        headers = self.config.default_headers()
        headers.update(req.headers)
        timeout = httpx_timeout(req.timeout if req.timeout is not None else self.config.timeout)
        return self._http.build_request(req.method, self.config.base_url + req.path, json=req.json,
                                        params=req.params, content=req.content, headers=headers,
                                        timeout=timeout)

    def _send(self, req: Request) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.send(self._build(req), stream=True)
            except httpx.TransportError as exc:
                if should_retry(req, attempt, self.config.max_retries, error=exc):
                    time.sleep(retry_delay(attempt, None))
                    attempt += 1
                    continue
                raise transport_error(exc) from exc
            if response.status_code < 400:
                return response
            try:
                response.read()
            except httpx.TransportError as exc:
                response.close()
                raise transport_error(exc) from exc
            response.close()
            if should_retry(req, attempt, self.config.max_retries, response=response):
                time.sleep(retry_delay(attempt, response))
                attempt += 1
                continue
            raise api_error(response)

    def request(self, req: Request) -> httpx.Response:
        """The answer, read whole (an APIError for 4xx/5xx)."""
        response = self._send(req)
        try:
            response.read()
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        finally:
            response.close()
        return response

    def json(self, req: Request) -> Any:
        return decode_json(self.request(req))

    @contextmanager
    def stream(self, req: Request) -> Iterator[httpx.Response]:
        """The answer with its body unread (an APIError for 4xx/5xx before it is yielded)."""
        response = self._send(req)
        try:
            yield response
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        finally:
            response.close()


class AsyncTransport:
    def __init__(self, config: Config, http_client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._owns = http_client is None
        self._http = http_client or httpx.AsyncClient(verify=config.verify, follow_redirects=False)

    async def close(self) -> None:
        if self._owns:
            await self._http.aclose()

    def _build(self, req: Request) -> httpx.Request:
        headers = self.config.default_headers()
        headers.update(req.headers)
        timeout = httpx_timeout(req.timeout if req.timeout is not None else self.config.timeout)
        return self._http.build_request(req.method, self.config.base_url + req.path, json=req.json,
                                        params=req.params, content=req.content, headers=headers,
                                        timeout=timeout)

    async def _send(self, req: Request) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.send(self._build(req), stream=True)
            except httpx.TransportError as exc:
                if should_retry(req, attempt, self.config.max_retries, error=exc):
                    await asyncio.sleep(retry_delay(attempt, None))
                    attempt += 1
                    continue
                raise transport_error(exc) from exc
            if response.status_code < 400:
                return response
            try:
                await response.aread()
            except httpx.TransportError as exc:
                await response.aclose()
                raise transport_error(exc) from exc
            await response.aclose()
            if should_retry(req, attempt, self.config.max_retries, response=response):
                await asyncio.sleep(retry_delay(attempt, response))
                attempt += 1
                continue
            raise api_error(response)

    async def request(self, req: Request) -> httpx.Response:
        response = await self._send(req)
        try:
            await response.aread()
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        finally:
            await response.aclose()
        return response

    async def json(self, req: Request) -> Any:
        return decode_json(await self.request(req))

    @asynccontextmanager
    async def stream(self, req: Request) -> AsyncIterator[httpx.Response]:
        response = await self._send(req)
        try:
            yield response
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        finally:
            await response.aclose()
