"""Components the health tests take down for real: a redis-server of the test's own, and a TCP
proxy in front of PostgreSQL (or Redis) that the test stops, stalls (it keeps accepting
connections and never answers) or silences after the connection is made (PostgreSQL's queries
are swallowed), and that counts the connections made through it."""

import asyncio
import shutil
import socket
import subprocess
import threading
import time


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """redis-server on a free port, without persistence; ``stop()`` shuts it down."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class TcpProxy:
    """An asyncio TCP proxy to ``target`` on a free port, in a thread of its own.

    ``stop()`` closes the listening socket and every connection through it (the component is
    gone: connections are refused); ``stall()`` keeps accepting and never forwards a byte (the
    component hangs); ``swallow_queries()`` lets PostgreSQL's connection start through, then
    never forwards a query (a ``Q`` message): connected, then silence (a saturated pool, a
    half-open TCP path). ``connections`` counts the connections accepted, ``open_connections``
    those the client has not closed yet."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self.stalled = False
        self.queries_swallowed = False
        self.connections = 0
        self.open_connections = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> "TcpProxy":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=5)
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, client: bool = False
    ) -> None:
        try:
            while data := await reader.read(65536):
                if client and self.queries_swallowed and data[:1] == b"Q":
                    continue  # never forwarded: the query hangs
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader, writer) -> None:
        self.connections += 1
        self.open_connections += 1
        try:
            await self._serve(reader, writer)
        finally:
            self.open_connections -= 1

    async def _serve(self, reader, writer) -> None:
        self._writers.add(writer)
        if self.stalled:
            await reader.read()  # hold the connection, answer nothing
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.add(upstream_writer)
        await asyncio.gather(
            self._pipe(reader, upstream_writer, client=True), self._pipe(upstream_reader, writer)
        )

    def stall(self) -> None:
        self.stalled = True

    def swallow_queries(self) -> None:
        self.queries_swallowed = True

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
                self._server = None
            for writer in list(self._writers):
                writer.close()

        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=5)

    def shutdown(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
