"""A real Airflow for tests: api-server, scheduler and dag-processor on PostgreSQL metadata.

What ``dag.test()`` cannot show (Clear through the REST API, the scheduler creating a run on
unpause, backfills) needs the real components. ``AirflowStack`` gives each test module its own
PostgreSQL database and AIRFLOW_HOME, starts the three processes with LocalExecutor, logs in
with the simple auth manager and talks to ``/api/v2``. Everything it starts is stopped by PID
(process group) at the end, and its database dropped.

Given ``workers`` it runs the CeleryExecutor instead: one ``airflow celery worker`` per name,
each on its own queues and with its own Celery node name, reporting its name as the hostname
of the tasks it runs (``worker_identity``), and a Redis database of its own as the broker.

PostgreSQL comes from ``CREDIT_RISK_TEST_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``), Redis from ``CREDIT_RISK_TEST_REDIS_URL``
(default ``redis://127.0.0.1:6379``); ``scripts/setup.sh`` starts both when they are local.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.conftest import REPO_ROOT
from tests.integration.dashboard_data import free_port

AIRFLOW = Path(sys.executable).with_name("airflow")
PG_URL = os.environ.get("CREDIT_RISK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CREDIT_RISK_TEST_REDIS_URL", "redis://127.0.0.1:6379")
USER = "operator"
WORKER_HOSTNAME = "tests.integration.worker_identity.hostname"
"""What a test's Celery worker records as the hostname of the tasks it runs: its own name."""
TERMINAL = {"success", "failed"}


def wait_for_health(
    base: str, processes: dict[str, subprocess.Popen], logs: Callable[[], str], timeout: float
) -> None:
    """Until ``base``'s ``/api/v2/monitor/health`` answers; fails with ``logs()`` if any of
    ``processes`` exits first or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                pytest.fail(f"airflow {name} exited:\n{logs()}")
        try:
            if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    pytest.fail(f"airflow api-server did not answer in {timeout:.0f} s:\n{logs()}")


def stop_process(process: subprocess.Popen) -> None:
    """Stop a process started with ``start_new_session=True`` and its children, by its group,
    then any descendant that left the group, by PID (a task's supervisor starts the task in a
    session of its own: interrupted mid-task, it would outlive its worker)."""
    if process.poll() is not None:
        return
    try:
        descendants = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    for child in descendants:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


def _free_redis_db() -> int:
    """An empty Redis database number (1-15; 0 is left to whatever else uses the server)."""
    import redis

    try:
        for number in range(1, 16):
            if redis.Redis.from_url(f"{REDIS_URL}/{number}", socket_timeout=5).dbsize() == 0:
                return number
    except redis.RedisError as error:
        pytest.fail(
            f"no Redis answers at {REDIS_URL} ({error}); the CeleryExecutor test uses it as the "
            "broker: start it (scripts/setup.sh does) or set CREDIT_RISK_TEST_REDIS_URL"
        )
    pytest.fail(f"every Redis database 1-15 at {REDIS_URL} holds keys; none is free for a test")


def _pg(url: str):
    import psycopg2

    connection = psycopg2.connect(url, connect_timeout=5)
    connection.autocommit = True
    return connection


@dataclass
class AirflowStack:
    """One running Airflow; ``start`` it, use ``api``, ``stop`` it."""

    home: Path
    env: dict[str, str]
    base: str
    password: str
    database: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    token: str | None = None
    workers: dict[str, list[str]] = field(default_factory=dict)
    """Celery worker name -> its queues (empty: LocalExecutor)."""
    broker: str | None = None

    @classmethod
    def create(
        cls,
        home: Path,
        extra_env: dict[str, str],
        workers: dict[str, list[str]] | None = None,
    ) -> AirflowStack:
        """A stack in ``home`` with its own metadata database (not started yet); with
        ``workers`` (name -> queues), on the CeleryExecutor with those workers."""
        try:
            server = _pg(PG_URL)
        except Exception as error:  # psycopg2.OperationalError, or the driver missing
            pytest.fail(
                f"no PostgreSQL answers at {PG_URL} ({error}); the real-scheduler tests keep "
                "Airflow's metadata there: start it (scripts/setup.sh does) or set "
                "CREDIT_RISK_TEST_PG_URL"
            )
        database = f"crm_airflow_{secrets.token_hex(4)}"
        with server.cursor() as cursor:
            cursor.execute(f'create database "{database}"')
        server.close()
        server_part = PG_URL.rsplit("/", 1)[0].split("://", 1)[1]  # user[:password]@host:port
        metadata_url = f"postgresql+psycopg2://{server_part}/{database}"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        password = secrets.token_urlsafe(12)
        home.mkdir(parents=True, exist_ok=True)
        (home / "passwords.json").write_text(json.dumps({USER: password}))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            **extra_env,
        }
        broker = None
        if workers:
            broker = f"{REDIS_URL}/{_free_redis_db()}"
            celery = {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CELERY__BROKER_URL": broker,
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{server_part}/{database}",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            }
            env |= celery | extra_env  # extra_env may set its own concurrency
        return cls(home, env, base, password, database, workers=workers or {}, broker=broker)

    @classmethod
    @contextlib.contextmanager
    def running(
        cls,
        home: Path,
        extra_env: dict[str, str],
        dag_id: str,
        workers: dict[str, list[str]] | None = None,
    ) -> Iterator[AirflowStack]:
        """A started stack (``create``'s arguments) once ``dag_id`` is in the API; stopped on
        exit, whatever happened."""
        stack = cls.create(home, extra_env, workers)
        try:  # a start that fails half way still stops what it started
            stack.start()
            stack.wait_for_dag(dag_id)
            yield stack
        finally:
            stack.stop()

    # --- processes ---------------------------------------------------------------------------

    def start(self) -> None:
        """Migrate the metadata database, start the three components, log in."""
        migrate = subprocess.run(
            [str(AIRFLOW), "db", "migrate"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if migrate.returncode != 0:
            pytest.fail(
                f"airflow db migrate failed:\n{migrate.stdout[-2000:]}{migrate.stderr[-3000:]}"
            )
        host, port = self.base.removeprefix("http://").split(":")
        for name, command in (
            ("api-server", ["api-server", "--host", host, "--port", port]),
            ("scheduler", ["scheduler"]),
            ("dag-processor", ["dag-processor"]),
        ):
            self._start(name, command)
        for name, queues in self.workers.items():
            self._start(
                name,
                [
                    "celery",
                    "worker",
                    "--celery-hostname",
                    f"{name}@%h",
                    "--queues",
                    ",".join(queues),
                ],
                {
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE": WORKER_HOSTNAME,
                    "CREDIT_RISK_TEST_WORKER_NAME": name,
                    "PYTHONPATH": os.pathsep.join(
                        filter(None, [str(REPO_ROOT), self.env.get("PYTHONPATH")])
                    ),
                },
            )
        wait_for_health(self.base, self.processes, self.logs, timeout=240)
        for name in self.workers:
            self._wait_for_log(name, f"{name}@", "ready.", timeout=120)
        response = httpx.post(
            f"{self.base}/auth/token",
            json={"username": USER, "password": self.password},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        self.token = response.json()["access_token"]

    def _start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.home / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen(
            [str(AIRFLOW), *command],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it stops its children
        )

    def _wait_for_log(self, name: str, *words: str, timeout: float) -> None:
        """Until a line of ``name``'s log holds every one of ``words``."""
        deadline = time.monotonic() + timeout
        log = self.home / f"{name}.log"
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                pytest.fail(f"{name} exited:\n{self.logs()}")
            lines = log.read_text(errors="replace").splitlines()
            if any(all(word in line for word in words) for line in lines):
                return
            time.sleep(1)
        pytest.fail(f"{name} never logged {words} in {timeout:.0f} s:\n{self.logs()}")

    def stop(self) -> None:
        """Stop every process by its process group, then drop the metadata database (and
        empty the broker's Redis database)."""
        for process in self.processes.values():
            stop_process(process)
        if self.broker:
            with contextlib.suppress(Exception):
                import redis

                redis.Redis.from_url(self.broker).flushdb()
        try:
            server = _pg(PG_URL)
            with server.cursor() as cursor:
                cursor.execute(f'drop database if exists "{self.database}" with (force)')
            server.close()
        except Exception:  # the database is a throwaway: never hide the test's own result
            pass

    def logs(self, tail: int = 3000) -> str:
        """The end of each component's log, for failure messages."""
        return "\n".join(
            f"--- {name} ---\n{(self.home / f'{name}.log').read_text(errors='replace')[-tail:]}"
            for name in self.processes
        )

    # --- REST API ----------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request to ``/api/v2`` as the logged-in operator."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(
            method, f"{self.base}/api/v2{path}", headers=headers, timeout=60, **kwargs
        )

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> dict:
        """The DAG once the dag-processor has stored it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.api("GET", f"/dags/{dag_id}")
            if response.status_code == 200:
                return response.json()
            time.sleep(2)
        pytest.fail(f"{dag_id} never appeared in the API:\n{self.logs()}")

    def runs(self, dag_id: str) -> list[dict]:
        """Every run of the DAG, oldest first."""
        response = self.api("GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "run_after"})
        assert response.status_code == 200, response.text
        return response.json()["dag_runs"]

    def wait_for_runs(self, dag_id: str, count: int, timeout: float = 600) -> list[dict]:
        """The DAG's runs once ``count`` of them exist and all have finished."""
        deadline = time.monotonic() + timeout
        runs: list[dict] = []
        while time.monotonic() < deadline:
            runs = self.runs(dag_id)
            if len(runs) >= count and all(run["state"] in TERMINAL for run in runs):
                return runs
            time.sleep(3)
        pytest.fail(f"runs of {dag_id} did not finish in {timeout:.0f} s: {runs}\n{self.logs()}")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> dict:
        """The run once it has finished."""
        deadline = time.monotonic() + timeout
        run: dict = {}
        while time.monotonic() < deadline:
            response = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            assert response.status_code == 200, response.text
            run = response.json()
            if run["state"] in TERMINAL:
                return run
            time.sleep(3)
        pytest.fail(f"{run_id} did not finish in {timeout:.0f} s: {run}\n{self.logs()}")

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict]:
        """The run's task instances by task id (a mapped task: one of its instances; see
        :meth:`task_instance_list`)."""
        return {ti["task_id"]: ti for ti in self.task_instance_list(dag_id, run_id)}

    def task_instance_list(self, dag_id: str, run_id: str) -> list[dict]:
        """Every task instance of the run, each mapped instance on its own."""
        response = self.api(
            "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000}
        )
        assert response.status_code == 200, response.text
        return response.json()["task_instances"]
