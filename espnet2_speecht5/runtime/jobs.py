"""Parallel job runners behind ``utils/run.py`` (this machine) and ``utils/slurm.py`` (Slurm).

Both take the recipe's job interface::

    <runner> [options] JOB=1:N log/name.JOB.log command args ... JOB ...

``JOB`` (any variable name works: ``SPLIT=1:4``) is replaced by the job number in the log path
and in every command argument.  A single job ``JOB=3`` and no job spec at all are accepted too.
The command runs through ``bash -o pipefail -c``; arguments are shell-quoted, except the bare
shell operators ``|``, ``>``, ``2>&1``, ... so that ``run.py log/x.log a \\| b`` makes a pipe,
and a single argument is taken as a complete shell command (``run.py log/x.log "a | b"``).
"""

from __future__ import annotations

import ctypes
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, List, Optional, Sequence

from espnet2_speecht5.runtime.errors import DataError

SHELL_OPERATORS = frozenset({"|", "||", "&&", ";", "&", ">", ">>", "<", "2>", "2>>", "2>&1", "&>", "|&"})
_SPEC = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\d+)(?::(\d+))?$")
_MAX_LAST_LINE = 300
_FOOTER = re.compile(r"^# (run|slurm)\.py: exit code ")
_PR_SET_PDEATHSIG = 1  # prctl option, from <linux/prctl.h>


@dataclass(frozen=True)
class JobRange:
    """The jobs a runner starts: ``var`` = ``first`` .. ``last`` (``var`` is None without a spec)."""

    var: Optional[str] = None
    first: int = 1
    last: int = 1
    is_range: bool = False

    @property
    def ids(self) -> List[int]:
        return list(range(self.first, self.last + 1))

    def label(self, job: int) -> str:
        """How messages name one job: ``job 3 of 8``, ``job 3`` or ``job``."""
        if self.var is None:
            return "job"
        return f"job {job} of {self.last}" if self.is_range else f"job {job}"

    def substitute(self, text: str, job: int) -> str:
        return text if self.var is None else text.replace(self.var, str(job))


@dataclass(frozen=True)
class JobRequest:
    """A parsed command line: the jobs, the log path template and the command template."""

    jobs: JobRange
    log: str
    command: List[str]


@dataclass
class JobResult:
    """How one job ended."""

    job: int
    label: str
    log: Path
    exit_code: Optional[int]  # None: no exit code came back (killed, never started)
    last_line: str = ""

    @property
    def failed(self) -> bool:
        return self.exit_code != 0


def parse_job_args(args: Sequence[str], prog: str) -> JobRequest:
    """Split ``[JOB=a:b] log command...`` (options already removed).

    Raises:
        DataError: a malformed job spec, or no log path or command.
    """
    args = list(args)
    jobs = JobRange()
    if args and "=" in args[0] and not args[0].startswith("-"):
        match = _SPEC.match(args[0])
        if match is None:
            raise DataError(f"{prog}: bad job spec '{args[0]}' (expected JOB=1:N or JOB=N)")
        var, first, last = match.group(1), int(match.group(2)), match.group(3)
        if last is None:
            jobs = JobRange(var, first, first, is_range=False)
        else:
            jobs = JobRange(var, first, int(last), is_range=True)
            if first < 1 or jobs.last < first:
                raise DataError(f"{prog}: bad job range '{args[0]}' (need 1 <= first <= last)")
        args = args[1:]
    if len(args) < 2:
        raise DataError(f"{prog}: usage: {prog} [options] [JOB=1:N] log/name.JOB.log command [args...]")
    return JobRequest(jobs, args[0], args[1:])


def shell_command(args: Sequence[str]) -> str:
    """Join command arguments into one bash command line (see the module docstring)."""
    if len(args) == 1:
        return args[0]
    return " ".join(a if a in SHELL_OPERATORS else shlex.quote(a) for a in args)


def last_output_line(log: Path, start: int = 0) -> str:
    """The last non-empty line of ``log`` from byte ``start`` on, skipping the runners' footers (shortened)."""
    try:
        with open(log, "rb") as f:
            f.seek(start)
            data = f.read()
    except OSError:
        return ""
    for line in reversed(data.decode("utf-8", "replace").splitlines()):
        if line.strip() and not _FOOTER.match(line):
            line = line.strip()
            return line if len(line) <= _MAX_LAST_LINE else line[:_MAX_LAST_LINE] + "..."
    return ""


def failure_line(prog: str, result: JobResult) -> str:
    """``run.py: job 3 of 8 failed (exit 1); see log/x.3.log; last line: ...``."""
    if result.exit_code is None:
        how = "no exit code: killed, timed out or never started"
    elif result.exit_code < 0:
        how = f"killed by signal {-result.exit_code}"
    else:
        how = f"exit {result.exit_code}"
    line = f"{prog}: {result.label} failed ({how}); see {result.log}"
    return f"{line}; last line: {result.last_line}" if result.last_line else line


# --------------------------------------------------------------------------- local runner


@dataclass
class _Running:
    job: int
    log: Path
    command: str
    proc: subprocess.Popen
    handle: object
    body_start: int
    started: float


def _stop_with_parent(parent: int) -> Callable[[], None]:
    """A ``preexec_fn`` that has Linux send SIGTERM to the job when the runner dies, even by SIGKILL.

    Without it, ``kill -9`` of the runner (or of the recipe's whole process group) would leave
    the job, which runs in a session of its own, training on; a rerun would then race it.
    """

    def preexec() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):  # not Linux: no parent-death signal
            return
        if os.getppid() != parent:  # the runner died before prctl took effect
            os._exit(128 + signal.SIGTERM)

    return preexec


def _job_shell_command(args: Sequence[str]) -> str:
    """The command bash runs: ``exec``-ed when it is one plain command, so that the parent-death
    signal, which survives ``execve`` but not ``fork``, reaches the program itself."""
    command = shell_command(args)
    if len(args) > 1 and not any(a in SHELL_OPERATORS for a in args):
        return "exec " + command
    return command


def _start_job(request: JobRequest, job: int, prog: str) -> _Running:
    log = Path(request.jobs.substitute(request.log, job))
    log.parent.mkdir(parents=True, exist_ok=True)
    args = [request.jobs.substitute(a, job) for a in request.command]
    command = shell_command(args)
    handle = open(log, "wb")  # closed in _finish_job
    header = f"# {command}\n# {prog}: {request.jobs.label(job)} started at {datetime.now():%Y-%m-%d %H:%M:%S}\n"
    handle.write(header.encode("utf-8"))
    handle.flush()
    proc = subprocess.Popen(
        ["bash", "-o", "pipefail", "-c", _job_shell_command(args)],
        stdin=subprocess.DEVNULL,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_stop_with_parent(os.getpid()) if sys.platform.startswith("linux") else None,
    )
    return _Running(job, log, command, proc, handle, handle.tell(), time.monotonic())


def _finish_job(running: _Running, request: JobRequest, prog: str) -> JobResult:
    code = running.proc.returncode
    elapsed = time.monotonic() - running.started
    handle = running.handle
    handle.flush()  # type: ignore[attr-defined]
    last = last_output_line(running.log, running.body_start)
    footer = f"# {prog}: exit code {code}, {elapsed:.1f} s elapsed, ended at {datetime.now():%Y-%m-%d %H:%M:%S}\n"
    handle.write(footer.encode("utf-8"))  # type: ignore[attr-defined]
    handle.close()  # type: ignore[attr-defined]
    return JobResult(running.job, request.jobs.label(running.job), running.log, code, last)


def run_local(request: JobRequest, max_jobs: Optional[int] = None, prog: str = "run.py") -> List[JobResult]:
    """Run every job of ``request`` on this machine, at most ``max_jobs`` at once; return results by job."""
    limit = max(1, max_jobs or os.cpu_count() or 1)
    pending = request.jobs.ids
    running: List[_Running] = []
    results: List[JobResult] = []
    try:
        while pending or running:
            while pending and len(running) < limit:
                running.append(_start_job(request, pending.pop(0), prog))
            still = []
            for item in running:
                if item.proc.poll() is None:
                    still.append(item)
                else:
                    results.append(_finish_job(item, request, prog))
            if len(still) == len(running):
                time.sleep(0.02)
            running = still
    except BaseException:
        for item in running:
            try:
                os.killpg(item.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        raise
    return sorted(results, key=lambda r: r.job)


# --------------------------------------------------------------------------- Slurm


@dataclass
class SlurmOptions:
    """Resources for each array task; None leaves Slurm's default."""

    gpu: int = 0
    mem: Optional[str] = None
    time: Optional[str] = None
    partition: Optional[str] = None
    cpus_per_task: Optional[int] = None
    max_jobs_run: Optional[int] = None


def _job_name(log_template: str, var: Optional[str]) -> str:
    name = Path(log_template).name
    if var is not None:
        name = name.replace(f".{var}", "").replace(var, "")
    name = name[: -len(".log")] if name.endswith(".log") else name
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "job"


@dataclass(frozen=True)
class SlurmPlan:
    """What slurm.py writes and submits."""

    script: Path
    script_text: str
    markers: List[Path]
    outputs: List[Path]
    sbatch: List[str]


def plan_slurm(request: JobRequest, options: SlurmOptions, cwd: Optional[Path] = None) -> SlurmPlan:
    """Make the sbatch array script for ``request`` (nothing is written yet)."""
    jobs = request.jobs
    cwd = Path(cwd or os.getcwd()).resolve()
    log_template = Path(request.log)
    qdir = log_template.parent / "q"
    name = _job_name(request.log, jobs.var)
    script = qdir / f"{name}.sh"
    array = f"{jobs.first}-{jobs.last}" + (f"%{options.max_jobs_run}" if options.max_jobs_run else "")
    lines = [
        "#!/usr/bin/env bash",
        f"# Written by slurm.py at {datetime.now():%Y-%m-%d %H:%M:%S}: one array task per job.",
        f"#SBATCH --job-name={name}",
        f"#SBATCH --array={array}",
        f"#SBATCH --output={qdir / (name + '.%a.out')}",
        f"#SBATCH --chdir={cwd}",
    ]
    if options.gpu:
        lines.append(f"#SBATCH --gres=gpu:{options.gpu}")
    if options.mem:
        lines.append(f"#SBATCH --mem={options.mem}")
    if options.time:
        lines.append(f"#SBATCH --time={options.time}")
    if options.partition:
        lines.append(f"#SBATCH --partition={options.partition}")
    if options.cpus_per_task:
        lines.append(f"#SBATCH --cpus-per-task={options.cpus_per_task}")
    var = jobs.var
    marker_template = str(qdir / f"{name}.{var or 'JOB'}.rc")

    def templated(shell_var: str, value: str) -> List[str]:
        out = [f"{shell_var}={shlex.quote(value)}"]
        if var is not None:
            out.append(f'{shell_var}="${{{shell_var}//{var}/${{task}}}}"')
        return out

    lines += [
        "",
        "set -u",
        "task=${SLURM_ARRAY_TASK_ID:?slurm.py: SLURM_ARRAY_TASK_ID is not set}",
        *templated("command", shell_command(request.command)),
        *templated("log", request.log),
        f"marker={shlex.quote(marker_template)}",
        'marker="${marker//' + (var or "JOB") + '/${task}}"',
        'mkdir -p "$(dirname "${log}")"',
        'rm -f "${marker}"',
        "start=$(date +%s)",
        "{",
        "    printf '# %s\\n' \"${command}\"",
        f"    printf '# slurm.py: task %s of {jobs.last} on %s started at %s\\n' "
        '"${task}" "$(hostname)" "$(date \'+%Y-%m-%d %H:%M:%S\')"',
        '} >"${log}"',
        'bash -o pipefail -c "${command}" >>"${log}" 2>&1',
        "rc=$?",
        "printf '# slurm.py: exit code %s, %s s elapsed, ended at %s\\n' "
        '"${rc}" "$(( $(date +%s) - start ))" "$(date \'+%Y-%m-%d %H:%M:%S\')" >>"${log}"',
        'echo "${rc}" >"${marker}"',
        'exit "${rc}"',
        "",
    ]
    markers = [Path(marker_template.replace(var or "JOB", str(j))) for j in jobs.ids]
    outputs = [qdir / f"{name}.{j}.out" for j in jobs.ids]
    return SlurmPlan(script, "\n".join(lines), markers, outputs, ["sbatch", "--parsable", "--wait", str(script)])


def write_slurm_script(plan: SlurmPlan) -> None:
    """Write the script (executable) and remove exit-code markers of an earlier run."""
    plan.script.parent.mkdir(parents=True, exist_ok=True)
    plan.script.write_text(plan.script_text, encoding="utf-8")
    plan.script.chmod(0o755)
    for marker in plan.markers:
        marker.unlink(missing_ok=True)


def collect_slurm_results(request: JobRequest, plan: SlurmPlan) -> List[JobResult]:
    """Read each task's exit-code marker after ``sbatch --wait`` returned."""
    results = []
    for job, marker in zip(request.jobs.ids, plan.markers):
        log = Path(request.jobs.substitute(request.log, job))
        code: Optional[int] = None
        try:
            code = int(marker.read_text().strip())
        except (OSError, ValueError):
            code = None
        last = ""
        if code != 0:
            last = last_output_line(log) if log.is_file() else last_output_line(plan.outputs[job - request.jobs.first])
        results.append(JobResult(job, request.jobs.label(job), log, code, last))
    return results


def submit_slurm(
    request: JobRequest, options: SlurmOptions, report: Callable[[str], None], cwd: Optional[Path] = None
) -> List[JobResult]:
    """Write the script, run ``sbatch --parsable --wait`` and return the per-task results.

    Raises:
        DataError: sbatch cannot be run, or it failed before any task wrote an exit code.
    """
    plan = plan_slurm(request, options, cwd)
    write_slurm_script(plan)
    try:
        proc = subprocess.run(plan.sbatch, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise DataError("slurm.py: sbatch is not on PATH (is this a Slurm login node?)") from None
    job_id = proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else "?"
    report(f"slurm.py: Slurm job {job_id} ({len(plan.markers)} task(s), script {plan.script}) ended")
    results = collect_slurm_results(request, plan)
    if proc.returncode != 0 and all(r.exit_code is None for r in results):
        detail = [line for line in proc.stderr.splitlines() if line.strip()]
        reason = detail[-1].strip() if detail else "no message"
        raise DataError(f"slurm.py: sbatch failed (exit {proc.returncode}): {reason}")
    return results


# --------------------------------------------------------------------------- command lines


def split_options(argv: Sequence[str], valued: Sequence[str], flags: Sequence[str], prog: str) -> tuple:
    """Take the leading ``--name value`` / ``--name=value`` / ``--flag`` options off ``argv``.

    Option names may use ``-`` or ``_``.  Parsing stops at the first argument that is not one
    of the known options, so the job's own command may use any options.

    Returns:
        ``(options, rest)`` with ``options`` mapping the underscore name to its string value
        (``"true"`` for flags).
    """
    options = {}
    args = list(argv)
    while args and args[0].startswith("--"):
        name, has_value, value = args[0][2:].partition("=")
        name = name.replace("-", "_")
        if name in flags and not has_value:
            options[name] = "true"
            args.pop(0)
        elif name in valued:
            if not has_value:
                if len(args) < 2:
                    raise DataError(f"{prog}: option --{name} needs a value")
                value = args[1]
                args.pop(0)
            options[name] = value
            args.pop(0)
        else:
            raise DataError(f"{prog}: unknown option {args[0]}")
    return options, args


def int_option(options: dict, name: str, prog: str, minimum: int = 0) -> Optional[int]:
    """``options[name]`` as an int >= ``minimum`` (None when absent)."""
    if name not in options:
        return None
    try:
        value = int(options[name])
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise DataError(f"{prog}: --{name} must be an integer >= {minimum}, not '{options[name]}'")
    return value
