"""A real Dask deployment on localhost for the tests: ``dask scheduler`` and ``dask worker`` processes.

Started with the command-line tools of this interpreter (``python -m dask
scheduler`` / ``python -m dask worker``, the ``dask`` command itself), each in
its own process group, and always torn down, the test passing or not. The
workers import this very checkout of ``cvn_sklearn`` (its folder leads their
``PYTHONPATH``) and this test folder (for :class:`PauseAtTask`).

:class:`PauseAtTask` makes a worker's death mid-sweep a fixed point instead of
a race: on the named worker, when its n-th task is about to execute, it
writes the worker process's pid to a file and hangs there, before the task
starts, until the test kills that process.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cvn_sklearn
from distributed.diagnostics.plugin import WorkerPlugin

_CODE = str(Path(cvn_sklearn.__file__).resolve().parents[1])
_TESTS = str(Path(__file__).resolve().parent)


@contextlib.contextmanager
def dask_deployment(folder, n_workers=2, timeout=120, worker_path=()):
    """Start ``dask scheduler`` and ``n_workers`` ``dask worker`` processes (one thread each); yield the address.

    Workers are named ``w0``, ``w1``, ...; each runs under its nanny (the
    default of ``dask worker``), which restarts it if it dies; ``worker_path``
    leads the workers' ``PYTHONPATH`` (not the scheduler's). Every process
    is stopped on exit (its whole process group, SIGKILL if SIGTERM is not
    enough); the scheduler and workers also stop by themselves if this process
    dies without tearing them down (``--idle-timeout``, ``--death-timeout``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    path = [_CODE, _TESTS, *filter(None, [os.environ.get("PYTHONPATH")])]
    dask = [sys.executable, "-m", "dask"]
    processes = []

    def start(command, log, first=()):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, [*first, *path]))}
        with open(folder / log, "wb") as out:
            processes.append(subprocess.Popen(command, env=env, cwd=folder, stdout=out, stderr=subprocess.STDOUT,
                                              start_new_session=True))

    try:
        start([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--idle-timeout", "300s",
               "--scheduler-file", str(scheduler_file)], "scheduler.log")
        for i in range(n_workers):
            start([*dask, "worker", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1", "--nthreads", "1",
                   "--nworkers", "1", "--name", f"w{i}", "--no-dashboard", "--death-timeout", "60s",
                   "--local-directory", str(folder / f"w{i}")], f"w{i}.log", worker_path)
        address = _wait_for_workers(scheduler_file, n_workers, processes, folder, timeout)
        yield address
    finally:
        _stop(processes)


def _wait_for_workers(scheduler_file, n_workers, processes, folder, timeout):
    from distributed import Client

    deadline = time.monotonic() + timeout
    while not scheduler_file.exists():
        _check_alive(processes, folder)
        if time.monotonic() > deadline:
            raise RuntimeError(f"dask scheduler wrote no {scheduler_file} in {timeout} s")
        time.sleep(0.1)
    address = json.loads(scheduler_file.read_text())["address"]
    with Client(address, timeout=timeout) as client:
        try:
            client.wait_for_workers(n_workers, timeout=max(1.0, deadline - time.monotonic()))
        except TimeoutError:
            _check_alive(processes, folder)
            raise
    return address


def _check_alive(processes, folder):
    ended = [p.args[3] for p in processes if p.poll() is not None]
    if ended:
        logs = "\n".join(path.read_text(errors="replace")[-2000:] for path in sorted(folder.glob("*.log")))
        raise RuntimeError(f"dask {ended} exited at start-up:\n{logs}")


def _stop(processes):
    """SIGTERM every process group (the scheduler; a nanny and its worker), then SIGKILL the groups still running."""
    _signal_groups(processes, signal.SIGTERM)
    _signal_groups([process for process in processes if process.poll() is None], signal.SIGKILL)
    for process in processes:  # a worker outliving its nanny, alone in the group (which keeps the id reserved)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _signal_groups(processes, sig, timeout=20):
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
    deadline = time.monotonic() + timeout
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))


class PauseAtTask(WorkerPlugin):
    """On worker ``worker``: as its ``nth`` task is about to execute, write its pid to ``marker`` and hang.

    The hang is in the worker's event loop, before the task's thread starts:
    the scheduler sees the task running there, nothing of it is done. Once the
    marker exists (a restarted worker of the same name) it does nothing.
    """

    name = "pause-at-task"

    def __init__(self, worker, nth, marker, hang=300):
        self.worker, self.nth, self.marker, self.hang = worker, nth, str(marker), hang

    def setup(self, worker):
        self.mine, self.started = worker.name == self.worker, []

    def transition(self, key, start, finish, **kwargs):
        if not (self.mine and finish == "executing") or Path(self.marker).exists():
            return
        self.started.append(key)
        if len(self.started) == self.nth:
            temporary = Path(self.marker + ".tmp")
            temporary.write_text(json.dumps({"pid": os.getpid(), "tasks": self.started}))
            temporary.replace(self.marker)
            time.sleep(self.hang)
