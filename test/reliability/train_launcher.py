"""Start ``espnet2_speecht5.bin.asr_train`` runs that a test can SIGKILL, cheaply.

Each run of the entry point pays about 12 s of CPU for imports (more on a loaded machine). A kill
test that restarts training six times would spend most of its time importing, so by default
every run is a fork of one helper process (the "zygote") that imported ESPnet once: the child
executes the module ``espnet2_speecht5.bin.asr_train`` as ``__main__`` with the given argv, like
``python -m``, with stdout and stderr in its log file. The zygote runs no torch operation before
forking. ``ProcessLauncher`` starts real ``python -m`` processes instead (same interface).

Run as a script, this file is the zygote: it reads one JSON request per line on stdin and
answers one JSON line on stdout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

ENTRY_POINT = "espnet2_speecht5.bin.asr_train"
REPO_ROOT = Path(__file__).resolve().parents[2]
# One intra-op thread per run: the runs share two cores with the test and the reference run, and
# several spinning OpenMP pools slow each other down many times over.
RUN_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class Run:
    """One started training run: its pid, a SIGKILL and a wait for its exit status."""

    def __init__(self, pid: int, waiter, process: Optional[subprocess.Popen] = None) -> None:
        self.pid = pid
        self._waiter = waiter
        self._process = process
        self.returncode: Optional[int] = None

    def kill(self) -> None:
        """SIGKILL the run, unless it has already been reaped (its pid may belong to another process then)."""
        if self.returncode is None:
            os.kill(self.pid, signal.SIGKILL)

    def poll(self) -> Optional[int]:
        if self.returncode is None:
            self.returncode = self._waiter(self.pid, block=False)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = self._waiter(self.pid, block=True)
        return self.returncode


class ForkLauncher:
    """Runs forked from a zygote process that has imported the entry point's modules."""

    def __init__(self, timeout: float = 300.0) -> None:
        env = dict(os.environ, **RUN_ENV)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
        self._zygote = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(REPO_ROOT),
        )
        ready = self._zygote.stdout.readline()
        if ready.strip() != '{"ready": true}':
            raise RuntimeError(f"the zygote did not start: {ready!r}")

    def _ask(self, request: Dict) -> Dict:
        self._zygote.stdin.write(json.dumps(request) + "\n")
        self._zygote.stdin.flush()
        return json.loads(self._zygote.stdout.readline())

    def start(self, argv: List[str], env: Dict[str, str], log: Path) -> Run:
        pid = self._ask({"op": "run", "argv": argv, "env": env, "log": str(log)})["pid"]
        return Run(pid, self._wait)

    def _wait(self, pid: int, block: bool) -> Optional[int]:
        return self._ask({"op": "wait", "pid": pid, "block": block})["status"]

    def close(self) -> None:
        self._zygote.stdin.close()
        self._zygote.wait(timeout=60)


class ProcessLauncher:
    """Runs as real ``python -m espnet2_speecht5.bin.asr_train`` processes."""

    def __init__(self) -> None:
        self._processes: Dict[int, subprocess.Popen] = {}

    def start(self, argv: List[str], env: Dict[str, str], log: Path) -> Run:
        with open(log, "w") as handle:
            proc = subprocess.Popen(
                [sys.executable, "-m", ENTRY_POINT, *argv],
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=dict(os.environ, **RUN_ENV, **env),
                cwd=str(REPO_ROOT),
            )
        self._processes[proc.pid] = proc
        return Run(proc.pid, self._wait, proc)

    def _wait(self, pid: int, block: bool) -> Optional[int]:
        proc = self._processes[pid]
        return proc.wait() if block else proc.poll()

    def close(self) -> None:
        pass


def _status(raw: int) -> int:
    """``waitpid`` status as ``Popen.returncode`` gives it: the exit code, or minus the signal."""
    return -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)


def _child(request: Dict) -> None:
    """In the forked child: become ``python -m ENTRY_POINT argv`` with output in the log file."""
    import runpy
    import traceback

    code = 1
    try:
        fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.environ.update(request["env"])
        sys.argv = [ENTRY_POINT, *request["argv"]]
        runpy.run_module(ENTRY_POINT, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as err:
        code = err.code if isinstance(err.code, int) else (0 if err.code is None else 1)
    except BaseException:  # noqa: BLE001 - report anything, as python -m would
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    """The zygote: import once, then fork one child per request."""
    import contextlib

    with contextlib.redirect_stdout(sys.stderr):  # import-time prints must not reach the protocol
        import espnet2_speecht5.bin.asr_train  # noqa: F401
        import espnet2_speecht5.tasks.asr  # noqa: F401
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "run":
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(request)
            answer = {"pid": pid}
        else:
            pid, raw = os.waitpid(request["pid"], 0 if request["block"] else os.WNOHANG)
            answer = {"status": _status(raw) if pid else None}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve()
