"""A TCP proxy on 127.0.0.1 that can cut the line to the database, for outage tests.

`cut()` closes every live connection and refuses new ones (accepted and closed at once, as a
server that went away) until `restore()`.
"""
from __future__ import annotations

import socket
import threading

from sqlalchemy.engine import make_url


class TcpProxy:
    def __init__(self, host: str, port: int):
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self._cut = False
        threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True).start()

    @classmethod
    def for_url(cls, url: str) -> tuple["TcpProxy", str]:
        """A proxy in front of the database at `url`, and the URL that goes through it."""
        u = make_url(url)
        proxy = cls(u.host or "127.0.0.1", u.port or 5432)
        return proxy, u.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self._target, timeout=5) if not self._cut else None
            except OSError:
                upstream = None
            with self._lock:
                keep = upstream is not None and not self._cut
                if keep:
                    upstream.settimeout(None)
                    self._live |= {client, upstream}
            if not keep:
                self._close(client, upstream)
                continue
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._live -= {src, dst}
            self._close(src, dst)

    @staticmethod
    def _close(*socks: socket.socket | None) -> None:
        for s in socks:
            if s is None:
                continue
            try:
                s.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv()
            except OSError:
                pass
            s.close()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            live, self._live = list(self._live), set()
        self._close(*live)

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self.cut()
        self._close(self._listener)
