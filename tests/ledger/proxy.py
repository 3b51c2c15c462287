"""A loopback TCP proxy a test puts between a ledger and its server, to freeze, kill or mute.

It stands in for a failing server without touching the shared one: :meth:`Proxy.freeze` stops
forwarding in both directions and accepting new connections (a server stopped with ``SIGSTOP``:
the kernel still completes handshakes), :meth:`Proxy.mute` forwards requests but drops every
reply (lost commit replies), :meth:`Proxy.reset` closes every open connection and keeps
listening (a server restart or a connection reset), :meth:`Proxy.kill` closes everything
(a server gone). :meth:`Proxy.thaw` undoes freeze and mute.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit


class Proxy:
    """Forwards 127.0.0.1:``port`` to ``target`` (a loopback ``host:port``) until told otherwise."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._muted = False
        self._closed = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def url_of(self, url: str) -> str:
        """Return ``url`` pointed at this proxy instead of its own host and port."""
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)
        auth = netloc[0] + "@" if len(netloc) == 2 else ""
        return parts._replace(netloc=f"{auth}127.0.0.1:{self.port}").geturl()

    def freeze(self) -> None:
        """Stop forwarding anything (and accepting): the server looks stopped."""
        self._flowing.clear()

    def mute(self) -> None:
        """Forward requests, drop every reply from the server."""
        self._muted = True

    def thaw(self) -> None:
        """Forward everything again."""
        self._muted = False
        self._flowing.set()

    def reset(self) -> None:
        """Close every open connection (both ends); new connections are served as before."""
        with self._lock:
            doomed, self._sockets = self._sockets, []
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def kill(self) -> None:
        """Close the listener and every connection: the server is gone."""
        self._closed = True
        with contextlib.suppress(OSError):
            self.listener.close()
        self.reset()
        self._flowing.set()  # let blocked pumps see the end

    close = kill

    def _accept(self) -> None:
        while not self._closed:
            self._flowing.wait()
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, replies: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                self._flowing.wait()  # frozen: hold what arrived
                if self._closed:
                    break
                if replies and self._muted:
                    continue
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
