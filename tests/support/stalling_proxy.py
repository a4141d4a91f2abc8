"""A TCP proxy in front of a database that a test can make slow, hung or gone.

`forward`: bytes pass both ways. `stall`: the proxy keeps every connection open,
accepts new ones, and passes nothing on — a database that accepts and never
answers. `down`: every connection is closed and new ones are refused.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Literal

Mode = Literal["forward", "stall", "down"]


class StallingProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "forward"
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.port = 0
        self._open()

    def _open(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def set(self, mode: Mode) -> None:
        with self._lock:
            previous, self.mode = self.mode, mode
        if mode == "down":
            self._close_all()
        elif previous == "down":
            self._open()

    def close(self) -> None:
        self.mode = "down"
        self._close_all()

    def _close_all(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        for item in [*sockets, *([listener] if listener else [])]:
            with suppress(OSError):
                item.shutdown(socket.SHUT_RDWR)
            item.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                mode = self.mode
                if mode == "stall":
                    self._sockets.append(client)  # accepted, never answered
            if mode == "stall":
                continue
            if mode == "down":
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self.mode != "forward":  # switched while connecting: this one never passes
                    client.close()
                    upstream.close()
                    continue
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while self.mode == "stall":
                    time.sleep(0.05)  # hold the bytes: the peer waits forever
                if self.mode == "down":
                    return  # what was held is dropped, as by a dead server
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


@contextmanager
def stalling_proxy(target_host: str, target_port: int) -> Iterator[StallingProxy]:
    proxy = StallingProxy(target_host, target_port)
    try:
        yield proxy
    finally:
        proxy.close()
