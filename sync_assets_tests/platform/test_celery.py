"""Runs spread over Celery workers, as a deployment starts them: Redis as the broker, two workers
(`dagster-celery worker start`, each with its name), the daemon dequeuing runs launched with
`dagster job launch`, the warehouse and Dagster's storage on the test PostgreSQL, the sandbox APIs
over HTTP. Every sync succeeds on either worker, the pools and the one-run-per-partition limit
hold, and a worker process killed in the middle of a sync fails its run loudly, having applied
nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import psutil
import pytest
import redis

from sync_assets.doctolib.client import api_keys, client_factory
from sync_assets.doctolib.practices import discover_practices
from sync_assets.platform.secrets import TokenCipher
from sync_assets.platform.warehouse import dagster_storage_url, engine_for
from sync_assets.rdvsp.oauth import RdvspSettings, connect
from sync_assets.sandbox.faults import Fault
from sync_assets.sandbox.server import free_port, start_in_thread

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET_KEY = "test-secret-key-0123456789abcdef"
RUN_TIMEOUT_S = 240
DONE = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


@pytest.fixture
def redis_url(tmp_path):
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed: `make test` installs Debian's redis-server package")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        + ["--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


class Deployment:
    """The environment every process of the deployment shares, and its processes."""

    def __init__(self, env: dict[str, str], home: Path, sandbox) -> None:
        self.env, self.home, self.sandbox = env, home, sandbox
        self.processes: dict[str, subprocess.Popen] = {}
        self.instance = dg.DagsterInstance.from_config(str(home))

    def start(self, name: str, *command: str) -> subprocess.Popen:
        log = open(self.home / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process's end)
        self.processes[name] = subprocess.Popen(
            list(command), cwd=PROJECT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self.processes[name]

    def start_worker(self, name: str) -> None:
        # One step at a time per worker: two workers are two places a step can run.
        self.start(
            name,
            str(BIN / "dagster-celery"),
            *("worker", "start", "--name", name, "-A", "dagster_celery.app"),
            *("-y", str(PROJECT / "deploy" / "dagster.celery.yaml"), "--", "--concurrency=1"),
        )

    def launch(self, job: str, partition: str) -> str:
        run_id = str(uuid.uuid4())
        subprocess.run(
            [str(BIN / "dagster"), "job", "launch", "-w", "workspace.yaml", "-j", job, "--run-id", run_id]
            + ["--tags", json.dumps({"dagster/partition": partition})],
            cwd=PROJECT,
            env=self.env,
            check=True,
            capture_output=True,
        )
        return run_id

    def wait_for_every_run(self) -> list[dg.RunRecord]:
        """Every run of the instance, finished: ours and those its sensors launched (the first sync
        of each account connected)."""
        return self.wait([r.run_id for r in self.instance.get_runs()])

    def wait(self, run_ids: list[str]) -> list[dg.RunRecord]:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while True:
            records = self.instance.get_run_records(dg.RunsFilter(run_ids=run_ids))
            if len(records) == len(run_ids) and all(r.dagster_run.status in DONE for r in records):
                return records
            stopped = [name for name, process in self.processes.items() if process.poll() is not None]
            if time.monotonic() > deadline or stopped:
                raise AssertionError(f"runs not finished (stopped: {stopped}): {self.logs()}")
            time.sleep(0.5)

    def worker_of(self, run_id: str) -> list[str]:
        """The Celery workers that took the run's steps, from its events."""
        return [
            str(e.dagster_event.engine_event_data.metadata["Celery worker"].value)
            for e in self.instance.all_logs(run_id)
            if e.dagster_event
            and e.dagster_event.is_engine_event
            and "Celery worker" in (e.dagster_event.engine_event_data.metadata or {})
        ]

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.home.glob("*.log"))

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.instance.dispose()


@pytest.fixture
def deployment(database_url, redis_url, tmp_path, monkeypatch):
    sandbox = start_in_thread(seed=3, scale=1500)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT / "dagster.yaml", home / "dagster.yaml")
    env = {
        "DAGSTER_HOME": str(home),
        "SYNC_DATABASE_URL": database_url,
        "SYNC_LOCAL_DIR": str(tmp_path / "local"),
        "SYNC_SECRET_KEY": SECRET_KEY,
        "SYNC_CELERY_BROKER_URL": redis_url,
        "RDVSP_BASE_URL": sandbox.base_url,
        "RDVSP_CLIENT_ID": sandbox.rdvsp.oauth.client_id,
        "RDVSP_CLIENT_SECRET": sandbox.rdvsp.oauth.client_secret,
        "RDVSP_REQUESTS_PER_MINUTE": "600000",
        "RDVSP_RDV_LISTING_REQUESTS_PER_MINUTE": "600000",
        **sandbox.doctolib.environment(sandbox.base_url),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    env["DAGSTER_POSTGRES_URL"] = dagster_storage_url()
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", env["DAGSTER_POSTGRES_URL"])
    # As in a deployment's image, the project's commands (and celery's) are on the PATH.
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    running = Deployment({**os.environ, **env}, home, sandbox)
    try:
        yield running
    finally:
        running.stop()
        sandbox.stop()


def rdvsp_accounts(deployment: Deployment) -> list[str]:
    """Two connected accounts: the administrator of every organisation, and a basic agent."""
    engine, world = engine_for(os.environ["SYNC_DATABASE_URL"]), deployment.sandbox.rdvsp.world
    accounts = []
    for agent_id in (1, world.add_agent({sorted(world.organisations)[0]: "basic"}).id):
        deployment.sandbox.rdvsp.sandbox_agent_id = agent_id
        account = connect(
            engine,
            RdvspSettings.from_environment(),
            TokenCipher.from_environment(),
            sync_from=date.today() - timedelta(days=730),
            unattended=True,
            show=lambda _: None,
        )
        accounts.append(str(account.account_id))
    deployment.instance.add_dynamic_partitions("rdvsp_accounts", accounts)
    return accounts


def doctolib_practices(deployment: Deployment) -> list[str]:
    engine = engine_for(os.environ["SYNC_DATABASE_URL"])
    found = discover_practices(engine, client_factory(os.environ["DOCTOLIB_BASE_URL"]), api_keys(), emit=lambda _: None)
    practices = [str(p) for p in found.practices]
    deployment.instance.add_dynamic_partitions("doctolib_practices", practices)
    return practices


def step_intervals(deployment: Deployment, run_ids: list[str]) -> list[tuple[str, float, float]]:
    """(job, start, end) of every step of the runs, from their events."""
    intervals = []
    for run_id in run_ids:
        run = deployment.instance.get_run_by_id(run_id)
        starts: dict[str, float] = {}
        for event in deployment.instance.all_logs(run_id):
            kind = event.dagster_event.event_type_value if event.dagster_event else None
            if kind == "STEP_START":
                starts[event.step_key] = event.timestamp
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
                intervals.append((run.job_name, starts[event.step_key], event.timestamp))
    return intervals


def overlapping(intervals: list[tuple[str, float, float]]) -> int:
    """The most intervals open at one moment."""
    moments = sorted([(start, 1) for _, start, _ in intervals] + [(end, -1) for _, _, end in intervals])
    most = current = 0
    for _, change in moments:
        current += change
        most = max(most, current)
    return most


def test_syncs_spread_over_two_celery_workers_within_the_pools_and_partition_limits(deployment):
    accounts, practices = rdvsp_accounts(deployment), doctolib_practices(deployment)
    # One RDV Service Public sync at a time (the pool), while Doctolib's may run beside it.
    deployment.instance.event_log_storage.set_concurrency_slots("rdvsp_api", 1)
    # Slower APIs, so that syncs last long enough to meet on the workers.
    for path in ("/api/v1/rdvs", "/v1/practices"):
        deployment.sandbox.faults.add(Fault(kind="change", path=path, action=lambda: time.sleep(0.2), times=-1))
    for name in ("worker-1", "worker-2"):
        deployment.start_worker(name)
    # Queued first, then dequeued by the daemon. Account 1 twice: the second run of a partition
    # waits for the first.
    launched = [deployment.launch("rdvsp_sync", a) for a in [*accounts, accounts[0]]]
    launched += [deployment.launch("doctolib_sync", p) for p in practices]
    deployment.start("daemon", str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml")

    deployment.wait(launched)
    records = deployment.wait_for_every_run()
    failed = [r.dagster_run.run_id for r in records if r.dagster_run.status != dg.DagsterRunStatus.SUCCESS]
    assert not failed, deployment.logs()
    workers = {w.split("@")[0] for run_id in launched for w in deployment.worker_of(run_id)}
    assert workers == {"worker-1", "worker-2"}
    by_partition: dict[str, list[tuple[float, float]]] = {}
    for record in records:
        key = f"{record.dagster_run.job_name}:{record.dagster_run.tags['dagster/partition']}"
        by_partition.setdefault(key, []).append((record.start_time, record.end_time))
    for spans in by_partition.values():
        spans.sort()
        assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:], strict=False))
    steps = step_intervals(deployment, launched)
    assert overlapping([s for s in steps if s[0] == "rdvsp_sync"]) == 1  # the pool of one slot
    assert overlapping(steps) == 2  # while both workers were busy at once


def test_a_worker_killed_in_the_middle_of_a_sync_fails_the_run_loudly_and_applies_nothing(deployment):
    [account, _] = rdvsp_accounts(deployment)
    deployment.start_worker("worker-1")
    deployment.start_worker("worker-2")
    deployment.start("daemon", str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml")
    deployment.wait([deployment.launch("rdvsp_sync", account)])
    records = deployment.wait_for_every_run()  # with the first syncs the sensor asked for
    assert {r.dagster_run.status for r in records} == {dg.DagsterRunStatus.SUCCESS}, deployment.logs()

    world = deployment.sandbox.rdvsp.world
    created = world.create_rdv(sorted(world.organisations)[0])
    # Slow RDV pages: the sync is still reading when its worker's process is killed.
    deployment.sandbox.faults.add(Fault(kind="change", path="/api/v1/rdvs", action=lambda: time.sleep(0.5), times=-1))
    run_id = deployment.launch("rdvsp_sync", account)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not (taken := deployment.worker_of(run_id)):
        assert time.monotonic() < deadline, deployment.logs()
        time.sleep(0.2)
    time.sleep(1.0)  # inside the listing
    # The process that runs the step: the only pool process of that worker's Celery main process.
    [celery_main] = psutil.Process(deployment.processes[taken[0].split("@")[0]].pid).children()
    [pool_process] = celery_main.children()
    pool_process.kill()

    [record] = deployment.wait([run_id])
    assert record.dagster_run.status == dg.DagsterRunStatus.FAILURE
    failures = [e for e in deployment.instance.all_logs(run_id) if e.dagster_event and e.dagster_event.is_failure]
    assert failures, deployment.logs()
    with engine_for(os.environ["SYNC_DATABASE_URL"]).connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM rdvsp.rdvs WHERE id = %s", (created.id,)).scalar() == 0
    # The other worker still takes syncs: the next run applies what the killed one did not.
    deployment.sandbox.faults.faults.clear()
    [again] = deployment.wait([deployment.launch("rdvsp_sync", account)])
    assert again.dagster_run.status == dg.DagsterRunStatus.SUCCESS, deployment.logs()
    with engine_for(os.environ["SYNC_DATABASE_URL"]).connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM rdvsp.rdvs WHERE id = %s", (created.id,)).scalar() == 1
        # The killed run's entry in the run log says what became of it.
        killed = conn.exec_driver_sql("SELECT status FROM sync.runs WHERE dagster_run_id = %s", (run_id,)).scalars()
        assert list(killed) == ["interrupted"]
