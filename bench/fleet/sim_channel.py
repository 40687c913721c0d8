"""The SIMULATED observers' SQL, carried between the obcp server and the simulation process.

obcp's server reaches observers through its `Connector` seam (`create_app(connect=...)`); the fleet
benchmark plugs `SimulatedConnector` there. Each session it opens is a line of JSON per statement over
one TCP connection to the simulation process, where the simulated cluster of that address evaluates it
(sim_observers.py). A session to a stopped simulated observer is refused as a real connect would be.
"""

# ruff: noqa: ASYNC109 -- the session mirrors SqlExecutor's signature, `timeout` included.
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from obcp.ob.connection import ObEndpoint, ObTimeouts
from obcp.ob.errors import ObConnectError, ObSqlError, describe_sql
from obcp.ob.executor import SqlExecutor

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


async def serve_channel(host: str, port: int, handle: Handler) -> asyncio.Server:
    """The simulation's end: one JSON request a line, one JSON answer a line, answered in order."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while line := await reader.readline():
                request = json.loads(line)
                answer = await handle(request)
                answer["i"] = request.get("i")
                writer.write(json.dumps(answer).encode() + b"\n")
        writer.close()

    return await asyncio.start_server(client, host, port, limit=2**24)


class ChannelClient:
    """The server's end: requests multiplexed over one connection, answers matched by id."""

    def __init__(self, host: str, port: int) -> None:
        self._where = (host, port)
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._opening: asyncio.Lock | None = None

    async def call(self, request: dict[str, Any]) -> dict[str, Any]:
        writer = await self._connected()
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        writer.write(json.dumps({**request, "i": ident}).encode() + b"\n")
        return await future

    async def _connected(self) -> asyncio.StreamWriter:
        if self._writer is not None:
            return self._writer
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._writer is None:
                reader, writer = await asyncio.open_connection(*self._where, limit=2**24)
                asyncio.get_running_loop().create_task(self._read(reader))
                self._writer = writer
        assert self._writer is not None
        return self._writer

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            answer = json.loads(line)
            future = self._waiting.pop(answer["i"], None)
            if future is not None and not future.done():
                future.set_result(answer)
        for future in self._waiting.values():
            future.set_exception(ConnectionError("the simulation process went away"))
        self._waiting.clear()
        self._writer = None


def _error(answer: dict[str, Any], address: str, statement: str) -> ObSqlError:
    error = answer["error"]
    kind = ObConnectError if error["kind"] == "connect" else ObSqlError
    return kind(address, statement, error.get("errno"), error.get("message", ""))


class SimulatedSession:
    """A session on one simulated observer; implements obcp.ob.executor.SqlExecutor."""

    def __init__(self, channel: ChannelClient, host: str, port: int) -> None:
        self._channel = channel
        self._host = host
        self.address = f"{host}:{port}"

    async def _run(self, sql: str, args: Sequence[object]) -> dict[str, Any]:
        answer = await self._channel.call({"op": "sql", "ip": self._host, "sql": sql, "args": list(args)})
        if "error" in answer:
            raise _error(answer, self.address, describe_sql(" ".join(sql.split()), args))
        return answer

    async def query(
        self, sql: str, args: Sequence[object] = (), *, timeout: float | None = None, secret: bool = False
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = (await self._run(sql, args))["rows"]
        return rows

    async def execute(
        self, sql: str, args: Sequence[object] = (), *, timeout: float | None = None, secret: bool = False
    ) -> int:
        return int((await self._run(sql, args))["count"])


class SimulatedConnector:
    """What the fleet benchmark's obcp server calls instead of `open_connection` (a simulation)."""

    def __init__(self, host: str, port: int) -> None:
        self.channel = ChannelClient(host, port)

    def __call__(
        self, endpoint: ObEndpoint, timeouts: ObTimeouts
    ) -> AbstractAsyncContextManager[SqlExecutor]:
        return self._session(endpoint)

    @asynccontextmanager
    async def _session(self, endpoint: ObEndpoint) -> AsyncIterator[SqlExecutor]:
        answer = await self.channel.call({"op": "connect", "ip": endpoint.host, "port": endpoint.port})
        if "error" in answer:
            raise _error(answer, endpoint.address, "(login as root)")
        yield SimulatedSession(self.channel, endpoint.host, endpoint.port)
