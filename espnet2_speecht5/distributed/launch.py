"""Start one process per rank on this node, wait for them, and stop them all when one fails.

Each rank runs the same command (an ESPnet training entry point) with
:func:`~espnet2_speecht5.distributed.ranks.espnet_rank_args` appended and its
:class:`~espnet2_speecht5.distributed.ranks.RankEnv` in its environment; its stdout and stderr
are the launcher's. When a rank ends with a non-zero status, the launcher names it on stderr,
sends SIGTERM to the ranks still running, and SIGKILL to those that have not ended
``grace_s`` seconds later. A SIGTERM, SIGINT or SIGHUP to the launcher stops the ranks the same
way. Ranks also get SIGTERM if the launcher itself is killed (Linux parent-death signal).

The last stderr line of a failed run is one ``ERROR:`` line that names the rank that failed
first (by the time its exit was seen, so a rank that dies takes the blame, not the ranks that
then lose their connection to it).

A rank that hangs is caught too: each rank gets a heartbeat file
(:mod:`~espnet2_speecht5.distributed.heartbeat`, ``$SPEECHT5_HEARTBEAT_FILE``) that the trainer
touches as it takes batches. When a running rank's file is older than ``hang_timeout_s`` (or it
has not beaten that long after its start), the launcher names it as hung and stops every rank
the same way. ``hang_timeout_s`` 0 turns the watch off.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, List, Optional, Sequence, Tuple

from espnet2_speecht5.distributed.heartbeat import HEARTBEAT_ENV, seconds_since_beat
from espnet2_speecht5.distributed.ranks import RankEnv
from espnet2_speecht5.runtime.jobs import _stop_with_parent

PROG = "ddp_launch"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@dataclass
class RankProcess:
    """One started rank and how it ended."""

    env: RankEnv
    proc: subprocess.Popen
    heartbeat: Path
    started_at: float
    returncode: Optional[int] = None
    stopped_by_launcher: bool = False
    hung_s: Optional[float] = None  # set when the launcher found it hung

    def ending(self) -> str:
        """``exit code 0``, ``exit code 1`` or ``killed by signal SIGKILL`` (plus who sent it)."""
        code = self.returncode
        if self.hung_s is not None:
            return f"no training or validation progress for {self.hung_s:.0f} s"
        if code is None:
            return "still running"
        if code >= 0:
            return f"exit code {code}"
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"killed by signal {name}" + (f" (sent by {PROG})" if self.stopped_by_launcher else "")


def _write_line(stream: IO[str], line: str) -> None:
    """One write call per line, so that the ranks' output (same stream) cannot land inside it."""
    stream.write(line + "\n")
    stream.flush()


def _say(stream: IO[str], line: str) -> None:
    _write_line(stream, f"{PROG}: {line}")


def _start(command: Sequence[str], env: RankEnv, extra_args: Sequence[str], heartbeat: Path) -> subprocess.Popen:
    full_env = dict(os.environ)
    full_env.update(env.environ())
    full_env[HEARTBEAT_ENV] = str(heartbeat)
    return subprocess.Popen(
        [*command, *extra_args],
        env=full_env,
        stdin=subprocess.DEVNULL,
        preexec_fn=_stop_with_parent(os.getpid()) if sys.platform.startswith("linux") else None,
    )


def _watch(index: int, proc: subprocess.Popen, ended: queue.Queue[Tuple[int, int]]) -> None:
    ended.put((index, proc.wait()))


class _StopRequest:
    """Remembers the first stop signal the launcher receives (set from the signal handler)."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None

    def __call__(self, signum: int, frame: object) -> None:
        if self.signum is None:
            self.signum = signum


def _signal_all(ranks: List[RankProcess], signum: int) -> None:
    for rank in ranks:
        if rank.returncode is None:
            rank.stopped_by_launcher = True
            try:
                rank.proc.send_signal(signum)
            except ProcessLookupError:
                pass


def _first_hung(ranks: List[RankProcess], timeout_s: float) -> Optional[RankProcess]:
    """The running rank with the oldest heartbeat, if it is older than ``timeout_s`` (marked hung)."""
    quiet = [(seconds_since_beat(r.heartbeat, r.started_at), r) for r in ranks if r.returncode is None]
    if not quiet:
        return None
    seconds, rank = max(quiet, key=lambda pair: pair[0])
    if seconds <= timeout_s:
        return None
    rank.hung_s = seconds
    return rank


def launch(
    command: Sequence[str],
    envs: Sequence[RankEnv],
    extra_args: Sequence[str] = (),
    grace_s: float = 15.0,
    stream: IO[str] = sys.stderr,
    hang_timeout_s: float = 1800.0,
) -> int:
    """Run ``command + extra_args`` once per rank of ``envs``; return the launcher's exit status.

    ``hang_timeout_s``: a rank without a heartbeat for this long is stopped as hung, with the
    others (0: never).

    Returns:
        0 when every rank exited with 0; 1 when a rank failed (the ``ERROR:`` line names it);
        128 + signal number when the launcher was asked to stop.
    """
    stop = _StopRequest()
    previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
    ranks: List[RankProcess] = []
    ended: queue.Queue[Tuple[int, int]] = queue.Queue()
    first_failure: Optional[RankProcess] = None
    kill_at: Optional[float] = None
    beats = Path(tempfile.mkdtemp(prefix="speecht5_heartbeats_"))
    next_watch = time.monotonic()
    try:
        for env in envs:
            heartbeat = beats / f"rank{env.rank}"
            ranks.append(RankProcess(env, _start(command, env, extra_args, heartbeat), heartbeat, time.time()))
            threading.Thread(target=_watch, args=(len(ranks) - 1, ranks[-1].proc, ended), daemon=True).start()
        _say(
            stream, f"started {len(ranks)} rank(s): " + ", ".join(f"rank {r.env.rank} pid {r.proc.pid}" for r in ranks)
        )
        running = len(ranks)
        stopping = False
        while running:
            if stop.signum is not None and not stopping:
                _say(stream, f"got {signal.Signals(stop.signum).name}: stopping every rank")
                _signal_all(ranks, signal.SIGTERM)
                stopping, kill_at = True, time.monotonic() + grace_s
            if hang_timeout_s > 0 and not stopping and time.monotonic() >= next_watch:
                next_watch = time.monotonic() + min(5.0, hang_timeout_s / 4)
                hung = _first_hung(ranks, hang_timeout_s)
                if hung is not None:
                    first_failure = hung
                    _say(stream, f"{hung.env.describe()}, pid {hung.proc.pid}, {hung.ending()}; stopping every rank")
                    _signal_all(ranks, signal.SIGTERM)
                    stopping, kill_at = True, time.monotonic() + grace_s
            try:
                index, code = ended.get(timeout=0.2)
            except queue.Empty:
                if kill_at is not None and time.monotonic() > kill_at:
                    _say(stream, f"ranks still running {grace_s:g} s after SIGTERM: sending SIGKILL")
                    _signal_all(ranks, signal.SIGKILL)
                    kill_at = None
                continue
            running -= 1
            rank = ranks[index]
            rank.returncode = code
            if code != 0 and first_failure is None and not stopping:
                first_failure = rank
                others = sum(r.returncode is None for r in ranks)
                _say(
                    stream,
                    f"{rank.env.describe()}, pid {rank.proc.pid}, {rank.ending()}; "
                    f"stopping the other {others} running rank(s)",
                )
                _signal_all(ranks, signal.SIGTERM)
                stopping, kill_at = True, time.monotonic() + grace_s
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _signal_all(ranks, signal.SIGKILL)  # only reached with ranks left if the launcher itself failed
        shutil.rmtree(beats, ignore_errors=True)
    for rank in ranks:
        _say(stream, f"{rank.env.describe()}, pid {rank.proc.pid}: {rank.ending()}")
    if first_failure is not None:
        verb = "hung" if first_failure.hung_s is not None else "failed first"
        _write_line(
            stream,
            f"ERROR: {PROG}: {first_failure.env.describe()} {verb} ({first_failure.ending()}); "
            f"all {len(ranks)} rank(s) on node {first_failure.env.node_rank} have stopped",
        )
        return 1
    if stop.signum is not None:
        return 128 + stop.signum
    _say(stream, f"all {len(ranks)} rank(s) finished with exit code 0")
    return 0
