"""A real S3-protocol server for tests and benches: moto's standalone server in a subprocess, behind a small TCP
gate on its own port that a test can close and open again.

Clients (boto3 in the app, in this process or in app servers started as subprocesses) use `endpoint_url`, the
gate's port. `down()` closes the gate: new connections are refused and open ones are cut, as when the store's
machine goes away; `up()` opens it again, and the objects stored before are still there (moto keeps them in
memory, and moto itself never stopped).

    with S3Server() as s3:
        bucket = s3.new_bucket()
        env = {**os.environ, **s3.env}            # for a subprocess: endpoint, region, credentials
        with s3.down():
            ...                                     # the store is unreachable here
"""
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

# moto accepts any credentials; boto3 only needs some to sign with.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Gate:
    """A TCP forwarder from one local port to another, which can refuse and cut connections at will."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.conns: set[socket.socket] = set()
        self.lock = threading.Lock()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="s3-gate", daemon=True).start()

    def close(self) -> None:
        listener, self.listener = self.listener, None
        if listener:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self.lock:
            conns, self.conns = self.conns, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _addr = listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                if self.listener is not listener:  # closed meanwhile
                    client.close()
                    upstream.close()
                    return
                self.conns |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        with self.lock:
            self.conns -= {src, dst}


class S3Server:
    """moto_server on a free port, reached through a gate (endpoint_url) that down() closes and up() reopens."""

    def __init__(self):
        self.moto_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.gate = _Gate(self.moto_port)
        self.endpoint_url = f"http://127.0.0.1:{self.gate.port}"

    @property
    def env(self) -> dict:
        """What a process needs to reach this server through boto3: the endpoint, a region and credentials."""
        return {**CREDENTIALS, "TRACKER_S3_ENDPOINT_URL": self.endpoint_url}

    def start(self) -> "S3Server":
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                      str(self.moto_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, **CREDENTIALS})
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.moto_port}/", timeout=2).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto_server did not start (is moto[server] installed?)") from None
                time.sleep(0.2)
        self.gate.open()
        return self

    def stop(self) -> None:
        self.gate.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> "S3Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def client(self):
        """A boto3 S3 client of this server, for a test's own look at the bucket."""
        import boto3
        return boto3.session.Session(aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                                     aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                                     region_name=CREDENTIALS["AWS_DEFAULT_REGION"]).client(
            "s3", endpoint_url=self.endpoint_url)

    def new_bucket(self) -> str:
        """A new, empty bucket; its name."""
        name = f"tracker-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def down(self):
        """Close the gate (the store is unreachable), and open it again when the with-block ends, whatever
        happened in it; call up() inside the block to bring it back earlier."""
        self.gate.close()
        return _Reopen(self)

    def up(self) -> None:
        if self.gate.listener is None:
            self.gate.open()


class _Reopen:
    def __init__(self, server: S3Server):
        self.server = server

    def __enter__(self) -> S3Server:
        return self.server

    def __exit__(self, *exc) -> None:
        self.server.up()
