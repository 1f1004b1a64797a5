"""A TCP proxy in front of PostgreSQL that plays a slow backend, for tests of
how pushbind's connections open (test_postgres.py).

While `step` is set (seconds), each connection accepted from then on answers
every step of its protocol late: the startup, and each sync point of a
pipeline (the server's messages up to and including a ReadyForQuery) reach
pushbind `step` seconds after the later of the server's answer and the
connection's previous step, as a backend on a starved CPU that takes that
long for each would. Connections accepted before keep their pace. Bytes from
pushbind go straight through.

The server's messages are cut by their type and length, so the URL must say
sslmode=disable (libpq's SSLRequest is answered by one untyped byte).
Standard library only.
"""

import socket
import struct
import threading
import time


class SlowProxy(object):
    """Listens on 127.0.0.1:port (0: a free one) and forwards to 127.0.0.1:to_port."""

    def __init__(self, to_port, port=0):
        self.to_port = to_port
        self.step = 0.0
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(('127.0.0.1', port))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.accepted = 0  # connections so far
        self._sockets = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, query):
        return 'postgresql://postgres@127.0.0.1:%d/postgres?sslmode=disable&%s' % (self.port, query)

    def close(self):
        self._closed = True
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(('127.0.0.1', self.to_port))
            with self._lock:
                self._sockets += [client, server]
                self.accepted += 1
            step = self.step
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._answers, args=(server, client, step), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    @staticmethod
    def _answers(src, dst, step):
        """Forwards the server's messages, each step `step` seconds after the later of its arrival and the last."""
        pending = b''
        released = 0.0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                pending += data
                if step == 0:
                    dst.sendall(pending)
                    pending = b''
                    continue
                arrived = time.monotonic()
                while True:
                    end = _step_end(pending)
                    if end is None:
                        break
                    released = max(arrived, released) + step
                    time.sleep(max(0.0, released - time.monotonic()))
                    dst.sendall(pending[:end])
                    pending = pending[end:]
            dst.sendall(pending)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _step_end(buf):
    """The length of buf's first run of whole messages ending with a ReadyForQuery, or None."""
    at = 0
    while at + 5 <= len(buf):
        kind = buf[at:at + 1]
        length, = struct.unpack('!I', buf[at + 1:at + 5])
        if at + 1 + length > len(buf):
            return None
        at += 1 + length
        if kind == b'Z':
            return at
    return None
