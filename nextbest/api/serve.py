"""Running the API: N worker processes, each with its own engine and listening socket.

Why not uvicorn's own `--workers`: it hands the workers a socket whose accepted connections
lack TCP_NODELAY, and every response then waits ~40 ms for the peer's delayed ACK (measured
here: 360 requests/s instead of 6,000 on a trivial endpoint). We bind the sockets ourselves
with TCP_NODELAY (accepted connections inherit it on Linux), migrate the store once, and
fork the workers.

Worker 0 learns: every 0.5 s it also learns the outcomes the other workers recorded
(`Engine.catch_up`). The others do not learn; every 5 s they take the saved models if the
learner has moved on (`Engine.refresh_models`). So the models of all workers come from one
learner, in the order of the interaction log, and no worker's save overwrites another's.
Worker 0 also runs the outbox every 0.5 s (`Engine.run_outbox`): a trigger's message that
waited for quiet hours goes out when they end, without a cron job.

On SIGTERM a worker stops accepting at once, but drains for up to `DRAIN_SECONDS` before
uvicorn's own shutdown closes the connections still open: the next request on each gets
its answer with `Connection: close`, where uvicorn alone would close an idle keep-alive
connection under a request the client was already sending (the client cannot tell whether
it was processed). A client that sends nothing in the drain meets the same race as before.

A configuration reload reaches one worker; it records the activation in the store, and
every 0.5 s each worker takes the newest activation it has not seen
(`Engine.follow_config`), so all of them run the reloaded version within about a second.

Each worker listens on its own `SO_REUSEPORT` socket, so the kernel spreads new connections
over the workers. One socket shared by all workers let whichever woke first accept every
pending connection: a load generator's 16 keep-alive connections all landed on one of two
workers, and the other idled.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import tempfile
import threading
from pathlib import Path
from types import FrameType

import uvicorn

from nextbest.api.app import create_app
from nextbest.api.metrics import share_between_processes
from nextbest.api.protocol import CoalescingProtocol
from nextbest.decision.engine import Engine
from nextbest.store import open_store

log = logging.getLogger(__name__)

BACKLOG = 2048
#: how often the learning worker learns what the other workers recorded
CATCH_UP_SECONDS = 0.5
#: how often the other workers look for newer saved models
REFRESH_SECONDS = 5.0
#: how long a stopping worker keeps answering its open connections (each closed after
#: its next answer)
DRAIN_SECONDS = 0.5


class _DrainingServer(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:  # no new connections, as uvicorn's shutdown begins
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            if isinstance(connection, CoalescingProtocol):
                connection.drain()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_SECONDS
        while self.server_state.connections and loop.time() < deadline and not self.force_exit:
            await asyncio.sleep(0.02)
        await super().shutdown(sockets)  # closes what is left, waits for running requests


class _Upkeep(threading.Thread):
    """Keeps a worker current in the background: every `CATCH_UP_SECONDS` it takes a
    configuration another worker made live (`Engine.follow_config`), and the learner
    catches up on the log and decides the outbox messages now due (`Engine.run_outbox`:
    those that waited for quiet hours to end, or whose decision failed); the others
    refresh their models from the store every `REFRESH_SECONDS`. A failure is retried on
    the next round."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(name="nextbest-upkeep", daemon=True)
        self.engine = engine
        self.stopped = threading.Event()

    def run(self) -> None:
        learns = self.engine.learns
        refresh_every = round(REFRESH_SECONDS / CATCH_UP_SECONDS)
        rounds = 0
        while not self.stopped.wait(CATCH_UP_SECONDS):
            rounds += 1
            for task, due in (
                (self.engine.follow_config, True),
                (self.engine.catch_up, learns),
                (self.engine.run_outbox, learns),  # messages whose quiet hours are over
                (self.engine.refresh_models, not learns and rounds % refresh_every == 0),
            ):
                if not due:
                    continue
                try:
                    task()
                except Exception as exc:  # upkeep must outlive a busy or broken moment
                    # the kind only: a message could carry data, and logs hold none
                    log.warning("upkeep failed (%s); retrying", type(exc).__name__)


def _socket(host: str, port: int, *, shared: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def _worker(
    host: str, port: int, db: str, config_dir: str | None, shared: bool, learns: bool
) -> None:
    sock = _socket(host, port, shared=shared)
    sock.listen(BACKLOG)
    # several workers write the file: `shared` keeps SQLite's page cache small
    engine = Engine.open(db, config_dir, learns=learns, shared=shared)
    upkeep = _Upkeep(engine)
    upkeep.start()
    # uvicorn raises the signal it stopped on again once it has shut down; at the default
    # handler that killed the process before the `finally` below, leaving the store
    # unclosed (its WAL not checkpointed back). A handler that does nothing lets it return.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        server = _DrainingServer(
            uvicorn.Config(
                create_app(engine, config_dir), log_level="warning", http=CoalescingProtocol
            )
        )
        server.run(sockets=[sock])
    finally:
        upkeep.stopped.set()
        upkeep.join()
        engine.close()
        sock.close()


def serve(db: str, config_dir: Path | None, host: str, port: int, workers: int) -> int:
    """Serve until stopped (SIGTERM/SIGINT); the exit status: 0, or the first failed
    worker's (a failed worker stops the others: no running on silently with fewer)."""
    open_store(db).close()  # migrations run once, here, not raced by the workers
    folder = str(config_dir) if config_dir else None
    if workers == 1:
        _worker(host, port, db, folder, False, True)
        return 0
    # bound, never listening: a taken port fails here, before any worker starts, and no
    # connection is ever queued on this socket
    claim = _socket(host, port, shared=True)
    with tempfile.TemporaryDirectory(prefix="nextbest-metrics-") as metrics:
        share_between_processes(metrics)  # every worker's /metrics sums all of them
        # fork: nothing has opened an engine (or a thread) yet
        context = multiprocessing.get_context("fork")
        processes = [
            context.Process(target=_worker, args=(host, port, db, folder, True, i == 0))
            for i in range(workers)
        ]
        for process in processes:
            process.start()

        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True
            for process in processes:
                if process.pid is not None and process.is_alive():
                    os.kill(process.pid, signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        status = 0
        running = list(processes)
        while running:
            for done in multiprocessing.connection.wait([p.sentinel for p in running]):
                process = next(p for p in running if p.sentinel == done)
                process.join()
                running.remove(process)
                # a worker we stopped returns (0), or, stopped before it got to serve,
                # ends "killed by SIGTERM": neither is a failure
                stopped = stopping and process.exitcode == -signal.SIGTERM
                if process.exitcode and not stopped and not status:
                    status = process.exitcode if process.exitcode > 0 else 1
                    stop(signal.SIGTERM, None)
    claim.close()
    return status
