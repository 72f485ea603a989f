"""`serve --workers N`: several worker processes on one port, each a node of the multi-node design.

A node is one event loop, so one process uses one core. With N workers a machine's cores serve
one address: this process (the supervisor) binds the port once and hands the listening socket to
every worker, the kernel gives each new connection to one of them, and a charger's commands
reach it from whichever worker the API request landed on the way they reach a charger on another
machine (the database, and the broker's wake-ups or each node's poll). So it needs PostgreSQL:
SQLite has one writer, and stays one process.

Worker `i` is the node `<node id>-w<i>`, the same name after a restart, so that what it held (the
chargers it had, its claims) is released and taken up under one name. The supervisor serves
nothing itself: it restarts a worker that exits, and on SIGTERM or SIGINT asks each worker to
drain and stop, as a single node does.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from chargegate import logs
from chargegate.config import Settings

log = logging.getLogger(__name__)

# A worker that exits this soon after its start is restarted after a pause that doubles each
# time, up to RESTART_MAX_S, so that one that cannot start does not spin.
QUICK_EXIT_S = 5.0
RESTART_MAX_S = 30.0
# How long the workers get to drain on shutdown before they are killed.
STOP_WAIT_S = 30.0


def worker_node_id(node_id: str, index: int) -> str:
    return f"{node_id}-w{index}"


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound here, listened on by the workers (uvicorn does that)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _run_worker(
    settings: Settings, host: str, port: int, sock: socket.socket, index: int, supervisor: int
) -> None:
    _leave_with_the_supervisor(supervisor)
    from chargegate.server import uvicorn_server

    settings.node_id = worker_node_id(settings.node_id, index)
    logs.configure(settings.log_level)
    uvicorn_server(settings, host, port).run(sockets=[sock])


def _leave_with_the_supervisor(supervisor: int) -> None:
    """A supervisor killed outright (kill -9) cannot pass anything on: its workers see it gone
    and drain, rather than serving on as orphans no one restarts or stops. Its pid is given, not
    read here: one killed while this worker was still starting would be read as the new parent."""

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


class Supervisor:
    def __init__(self, settings: Settings, host: str, port: int, workers: int) -> None:
        self._settings = settings
        self._host = host
        self._port = port
        self._count = workers
        self._context = multiprocessing.get_context("spawn")
        self._stopping = False

    def run(self) -> None:
        sock = listening_socket(self._host, self._port)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)
        workers = {index: self._start(sock, index) for index in range(self._count)}
        pauses = dict.fromkeys(workers, 0.0)
        started = dict.fromkeys(workers, time.monotonic())
        while not self._stopping:
            wait([worker.sentinel for worker in workers.values()], timeout=1.0)
            for index, worker in list(workers.items()):
                if worker.is_alive() or self._stopping:
                    continue
                quick = time.monotonic() - started[index] < QUICK_EXIT_S
                pauses[index] = min(RESTART_MAX_S, max(1.0, 2 * pauses[index])) if quick else 0.0
                log.error(
                    "worker exited; restarting it",
                    extra={"node": worker_node_id(self._settings.node_id, index),
                           "exitcode": worker.exitcode, "after_s": pauses[index]},
                )  # fmt: skip
                time.sleep(pauses[index])
                workers[index] = self._start(sock, index)
                started[index] = time.monotonic()
        for worker in workers.values():
            if worker.is_alive():
                worker.terminate()  # SIGTERM: the worker drains as a single node does
        deadline = time.monotonic() + STOP_WAIT_S
        for worker in workers.values():
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                worker.kill()
                worker.join()
        sock.close()

    def _start(self, sock: socket.socket, index: int) -> BaseProcess:
        worker = self._context.Process(
            target=_run_worker,
            args=(self._settings, self._host, self._port, sock, index, os.getpid()),
            name=worker_node_id(self._settings.node_id, index),
        )
        worker.start()
        return worker

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True
