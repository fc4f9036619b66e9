"""A MariaDB server of a test's own (own datadir, own port), which the test may kill.

The shared server on 3306 is never stopped: a test that needs the server to die mid-way
starts one of these, kills it by its PID (``SIGKILL``: a power cut, not a shutdown) and
starts it again on the same datadir, so InnoDB recovers as it would in production.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import MySQLdb
import pytest

from tests.integration.alert_servers import free_port

SERVER = shutil.which("mariadbd") or shutil.which("mysqld") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")


@dataclass
class PrivateMariaDB:
    """A throwaway server: ``start``, ``kill``, ``start`` again, ``stop`` at the end."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, database: str) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{database}"

    def install(self) -> None:
        if INSTALL_DB is None:
            pytest.skip("mariadb-install-db is not installed")
        self.root.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                INSTALL_DB,
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--user={getpass.getuser()}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
        )

    def start(self, timeout: float = 60) -> None:
        """Start the server on its datadir (recovering it after a kill) and wait for it."""
        log = (self.root / "server.log").open("ab")
        self.process = subprocess.Popen(
            [
                SERVER,
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--port={self.port}",
                f"--socket={self.root / 'sock'}",
                "--bind-address=127.0.0.1",
                f"--user={getpass.getuser()}",
                "--skip-grant-tables",
                "--local-infile=1",
                "--innodb-buffer-pool-size=64M",
                "--innodb-log-file-size=48M",
                f"--pid-file={self.root / 'pid'}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the private MariaDB exited: {self.log_tail()}")
            try:
                MySQLdb.connect(host="127.0.0.1", port=self.port, user="root").close()
                return
            except MySQLdb.OperationalError:
                time.sleep(0.3)
        raise RuntimeError(f"the private MariaDB did not start in {timeout:.0f} s")

    def kill(self) -> None:
        """Kill the server at once, by its PID (only this server, never the shared one)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 20) -> str:
        path = self.root / "server.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )


@pytest.fixture(scope="module")
def private_mariadb(tmp_path_factory):
    server = PrivateMariaDB(tmp_path_factory.mktemp("private_mariadb"))
    server.install()
    server.start()
    try:
        yield server
    finally:
        server.stop()
