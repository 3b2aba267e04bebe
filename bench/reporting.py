"""Summaries of the benchmark rounds: the table of medians and ratios, the machine description, and
``RESULTS.md``.

``RESULTS.md`` has a fixed layout that later work appends to:

* ``## What each change bought``: a table kept as it is by every run (append one row per change);
* ``## Latest run``: the part between the two ``bench/run.py`` markers, rewritten by each run.

The raw rounds of the latest run go to the JSON file beside it (``RESULTS.json``).
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from workloads import Workload

BEGIN = "<!-- BEGIN bench/run.py output: rewritten by every run -->"
END = "<!-- END bench/run.py output -->"
CHANGES_HEADING = "## What each change bought"

# dense bf16 peak, TFLOP/s, by a piece of the device name (first match wins)
GPU_BF16_PEAK_TFLOPS: Sequence[Tuple[str, float]] = (
    ("H200", 989.0),
    ("H100", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("A10G", 70.0),
)

Key = Tuple[str, str, str]  # (case, impl, variant)


@dataclass(frozen=True)
class Row:
    """One line of the table: which measurements it compares and its target.

    ours/ref: (impl, variant) of each side; part: the timed part (``total``, ``generate``, ...);
    minus_extra: subtract this extra measurement of our side (per round) from its time.
    """

    case: str
    label: str
    ours: Tuple[str, str]
    ref: Tuple[str, str]
    part: str = "total"
    target: Optional[float] = None
    memory_target: Optional[float] = None
    minus_extra: Optional[str] = None
    training: bool = False


def table_rows(work: Workload) -> List[Row]:
    """Every row the harness can report, labelled with the workload's sizes."""
    n, beam, frames = work.asr_tokens, work.beam, work.tts_frames
    secs = f"{work.audio_seconds:g} s"
    ours, ref = ("ours", ""), ("ref", "")
    int8, ref_int8 = ("ours", "int8"), ("ref", "int8")
    utts = work.testset_utts
    return [
        Row("a", f"ASR greedy, {secs} audio, {n} tokens", ours, ref, target=0.5),
        Row("a", "ASR greedy, ours int8 vs the reference fp32", int8, ref, target=0.4),
        Row("a", "ASR greedy, ours int8 vs the reference with torch.ao dynamic int8", int8, ref_int8),
        Row("a", "ASR greedy, ours int8 with the encoder in bf16 (`bf16_encoder`) vs the reference fp32",
            ("ours", "int8+bf16enc"), ref, target=0.4),
        Row("b", f"ASR beam {beam}, {n} tokens, ours without CTC", ("ours", "ctc0"), ref, target=0.5),
        Row("b", f"ASR beam {beam}, {n} tokens, ours with CTC 0.3", ("ours", "ctc0.3"), ref, target=0.8),
        Row("c", f"TTS generation, {work.tts_chars} chars -> {frames} frames", ours, ref, "generate", 0.4),
        Row("c", f"HiFi-GAN vocoder, {frames} frames", ours, ref, "vocoder"),
        Row("c", "TTS generation + vocoder", ours, ref, "total"),
        Row("c", "TTS generation, ours int8 vs the reference fp32", int8, ref, "generate", 0.5),
        Row("c", "TTS generation, ours int8 vs the reference with torch.ao dynamic int8", int8, ref_int8, "generate"),
        Row("d", f"S2T train step, {work.train_batch} x {secs}, {work.train_label_tokens} labels, ours CTC 0 "
            "(like for like)", ("ours", "ctc0"), ref, target=0.8, memory_target=0.8, training=True),
        Row("d", "S2T train step, ours CTC 0.3 (our recipe's loss)", ("ours", "ctc0.3"), ref, target=0.8,
            memory_target=0.8, training=True),
        Row("d", "S2T train step, ours CTC 0 keeping every activation (`recompute_activations: false`)",
            ("ours", "ctc0+keep"), ref, target=0.8, memory_target=0.8, training=True),
        Row("d", "S2T train step, bf16 autocast on both sides, ours CTC 0", ("ours", "ctc0+bf16"), ("ref", "bf16"),
            target=0.8, training=True),
        Row("e", f"TTS train step, {work.train_batch} x {work.tts_chars} chars -> {frames} frames, ours from the "
            "waveform", ours, ref, target=0.8, training=True),
        Row("e", "TTS train step, ours minus its log-mel extraction", ours, ref, target=0.8,
            minus_extra="features", training=True),
        Row("e", "TTS train step, bf16 autocast on both sides", ("ours", "bf16"), ("ref", "bf16"), target=0.8,
            training=True),
        Row("f", f"Test-set decoding, {utts} utts of {work.testset_seconds[0]:g}-{work.testset_seconds[1]:g} s, "
            f"beam {beam}, {work.testset_tokens} tokens each; ours utterance-batched fp32 vs generate at its best "
            "batch size", ours, ref, target=0.5),
        Row("f", "Test-set decoding, ours utterance-batched int8 vs generate (fp32) at its best batch size", int8,
            ref, target=0.5),
    ]


# ---------------------------------------------------------------------------------------- numbers
def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def _times(rounds: List[Dict[str, Any]], part: str, minus_extra: Optional[str] = None) -> List[float]:
    out = []
    for result in rounds:
        value = result["seconds"][part]
        if minus_extra is not None:
            value -= result.get("extra_seconds", {}).get(minus_extra, 0.0)
        out.append(value)
    return out


def probe_flops_per_s(results: Dict[Key, List[Dict[str, Any]]], variant: str = "") -> Optional[float]:
    """Median over rounds of the probe's best FLOP/s (``variant`` ``bf16``: the bf16 probe); None when
    that probe did not run."""
    rounds = results.get(("g", "probe", variant))
    if not rounds:
        return None
    return median([r["info"]["probe_flops"] / r["seconds"]["best"] for r in rounds])


def gpu_peak_flops(device_name: str, override_tflops: Optional[float]) -> Optional[float]:
    """The GPU's dense bf16 peak in FLOP/s: ``--peak_tflops`` if given, else from the name table."""
    if override_tflops:
        return override_tflops * 1e12
    for piece, tflops in GPU_BF16_PEAK_TFLOPS:
        if piece in device_name:
            return tflops * 1e12
    return None


@dataclass
class Side:
    """Medians of one side of a row."""

    seconds: float
    peak_mb: float
    growth_mb: float
    gpu_mb: Optional[float]
    flops: Optional[float]
    units: float

    def utilisation(self, limit: Optional[float]) -> Optional[float]:
        if self.flops is None or limit is None or not self.seconds > 0:
            return None
        return self.flops / self.seconds / limit

    def rate(self) -> float:
        return self.units / self.seconds if self.seconds > 0 else math.nan


def side(rounds: List[Dict[str, Any]], part: str, minus_extra: Optional[str] = None) -> Side:
    flops = [r["flops"] for r in rounds if r.get("flops")]
    gpu = [r["peak_gpu_mb"] for r in rounds if "peak_gpu_mb" in r]
    return Side(
        seconds=median(_times(rounds, part, minus_extra)),
        peak_mb=median([r["peak_rss_mb"] for r in rounds]),
        growth_mb=median([r["rss_growth_mb"] for r in rounds]),
        gpu_mb=median(gpu) if gpu else None,
        flops=median(flops) if flops else None,
        units=float(rounds[0]["info"].get("units", math.nan)),
    )


def ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


@dataclass
class Line:
    row: Row
    ours: Side
    ref: Side
    time_ratio: float
    memory_ratio: float


def summarise(results: Dict[Key, List[Dict[str, Any]]], work: Workload) -> List[Line]:
    """The rows whose both sides were measured."""
    lines = []
    for row in table_rows(work):
        ours = results.get((row.case, *row.ours))
        ref = results.get((row.case, *row.ref))
        if not ours or not ref:
            continue
        a, b = side(ours, row.part, row.minus_extra), side(ref, row.part)
        mem_a, mem_b = (a.gpu_mb, b.gpu_mb) if a.gpu_mb is not None else (a.peak_mb, b.peak_mb)
        lines.append(Line(row, a, b, ratio(a.seconds, b.seconds), ratio(mem_a, mem_b)))
    return lines


# ---------------------------------------------------------------------------------------- formatting
def fmt(value: Optional[float], digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def verdict(line: Line) -> str:
    """``met`` / ``not met`` against the row's targets; ``–`` without one."""
    row = line.row
    if row.target is None:
        return "–"
    ok = line.time_ratio <= row.target
    text = f"≤ {row.target:g}"
    if row.memory_target is not None:
        ok = ok and line.memory_ratio <= row.memory_target
        text += f", mem ≤ {row.memory_target:g}"
    return f"{text}: {'met' if ok else 'not met'}"


def markdown_table(lines: List[Line], limit: Optional[float], cuda: bool, bf16_limit: Optional[float] = None) -> str:
    """The main table: medians, ratios, memory, model FLOP utilisation against ``limit`` (and against
    ``bf16_limit``, the bf16 matmul probe, on the CPU), and rates on cuda."""
    mem = "peak GPU MB" if cuda else "peak RSS MB"
    head = [
        "case", "workload", "ours s", "ref s", "ours/ref time", "target", f"ours {mem}", f"ref {mem}",
        "ours/ref mem", "ours RSS growth MB", "ref RSS growth MB", "ours MFU", "ref MFU",
    ]
    if not cuda:
        head += ["ours MFU (bf16 probe)", "ref MFU (bf16 probe)"]
    if cuda:
        head += ["ours units/s", "ref units/s", "unit"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for line in lines:
        a, b = line.ours, line.ref
        mem_a, mem_b = (a.gpu_mb, b.gpu_mb) if cuda else (a.peak_mb, b.peak_mb)
        cells = [
            line.row.case, line.row.label, fmt(a.seconds), fmt(b.seconds), fmt(line.time_ratio), verdict(line),
            fmt(mem_a), fmt(mem_b), fmt(line.memory_ratio), fmt(a.growth_mb), fmt(b.growth_mb),
            pct(a.utilisation(limit)), pct(b.utilisation(limit)),
        ]
        if not cuda:
            cells += [pct(a.utilisation(bf16_limit)), pct(b.utilisation(bf16_limit))]
        if cuda:
            cells += [fmt(a.rate()), fmt(b.rate()), "tokens" if line.row.case in "ab" else "frames/labels"]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def parts_table(results: Dict[Key, List[Dict[str, Any]]]) -> str:
    """Medians of every timed part and extra measurement, per implementation."""
    out = ["| case | impl | variant | part | median s | rounds |", "|---|---|---|---|---|---|"]
    for (case, impl, variant), rounds in sorted(results.items()):
        parts = sorted({p for r in rounds for p in r["seconds"]})
        if len(parts) == 2 and "total" in parts:  # one part: it is the total
            parts = ["total"]
        extras = sorted({p for r in rounds for p in r.get("extra_seconds", {})})
        for part in parts:
            values = [r["seconds"][part] for r in rounds if part in r["seconds"]]
            out.append(f"| {case} | {impl} | {variant or '–'} | {part} | {fmt(median(values), 4)} | {len(values)} |")
        for part in extras:
            values = [r["extra_seconds"][part] for r in rounds]
            out.append(f"| {case} | {impl} | {variant or '–'} | {part} (separately) | {fmt(median(values), 4)} "
                       f"| {len(values)} |")
    return "\n".join(out)


def decode_floor(results: Dict[Key, List[Dict[str, Any]]]) -> Optional[str]:
    """Case a against the weight-reading floor: per-token decoding time of both sides (total minus the
    encoder alone, over the tokens) next to one batch-1 pass over the step's weights; None without case a."""
    ours, ref = results.get(("a", "ours", "")), results.get(("a", "ref", ""))
    if not ours or not ref or "weights floor" not in ours[0].get("extra_seconds", {}):
        return None
    tokens = ours[0]["info"]["units"]

    def per_token(rounds: List[Dict[str, Any]]) -> float:
        return median([(r["seconds"]["total"] - r["extra_seconds"]["encoder"]) / tokens for r in rounds])

    floor = median([r["extra_seconds"]["weights floor"] / tokens for r in ours])
    weight_mb = ours[0]["info"]["step_weight_mb"]
    ours_ms, ref_ms, floor_ms = 1e3 * per_token(ours), 1e3 * per_token(ref), 1e3 * floor
    return (
        f"Decode floor (case a): one greedy step multiplies a batch-1 vector with {weight_mb:.0f} MB of fp32 "
        f"weights (every decoder linear layer except the cached cross-attention keys/values, and the output "
        f"projection). Those products alone take {floor_ms:.1f} ms ({weight_mb / floor_ms:.1f} GB/s). Per "
        f"token, after the encoder: ours {ours_ms:.1f} ms ({ours_ms / floor_ms:.2f} x the floor), the "
        f"reference {ref_ms:.1f} ms ({ref_ms / floor_ms:.2f} x). A ratio of 0.5 would need "
        f"{ref_ms / 2:.1f} ms per token, {ref_ms / 2 / floor_ms:.2f} x the floor."
    )


def memory_table(results: Dict[Key, List[Dict[str, Any]]]) -> str:
    """Whole-process memory of each worker: before the timed part, its peak, and the peak of loading."""
    out = ["| case | impl | variant | RSS before timed MB | peak RSS timed MB | peak RSS load + warm-up MB | "
           "FLOPs per step (G) |", "|---|---|---|---|---|---|---|"]
    for (case, impl, variant), rounds in sorted(results.items()):
        flops = [r["flops"] for r in rounds if r.get("flops")]
        out.append(
            f"| {case} | {impl} | {variant or '–'} | {fmt(median([r['rss_before_mb'] for r in rounds]))} "
            f"| {fmt(median([r['peak_rss_mb'] for r in rounds]))} "
            f"| {fmt(median([r['load_peak_rss_mb'] for r in rounds]))} "
            f"| {fmt(median(flops) / 1e9) if flops else '–'} |"
        )
    return "\n".join(out)


# ---------------------------------------------------------------------------------------- machine
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def git_commit(repo: Path) -> str:
    """``<short hash>``, plus the files of espnet2_speecht5/ (the measured code) that differ from it."""

    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = [line[3:] for line in git("status", "--porcelain", "--", "espnet2_speecht5").splitlines()]
    if changed:
        commit += f" + uncommitted changes in {', '.join(changed)}"
    return commit


def machine(commit: str, device_name: str, threads: int, device: str) -> List[Tuple[str, str]]:
    """(name, value) pairs describing where the numbers come from (``commit`` from :func:`git_commit`)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return [
        ("CPU", _cpu_model()),
        ("cores", f"{os.cpu_count()} logical, {usable} usable by this process"),
        ("memory", _memory_gib()),
        ("device", device_name if device == "cuda" else "cpu"),
        ("threads", f"{threads} (torch.set_num_threads, OMP_NUM_THREADS, MKL_NUM_THREADS)"),
        ("python", platform.python_version()),
        ("torch", _version("torch")),
        ("transformers", _version("transformers")),
        ("espnet", _version("espnet")),
        ("commit", commit),
    ]


# ---------------------------------------------------------------------------------------- RESULTS.md
TEMPLATE = f"""# Benchmarks: espnet2-speecht5 against transformers' SpeechT5

Written by `bench/run.py` (see the README's "Benchmarks" section). Each case runs our network and
transformers' SpeechT5 in separate processes, on the same inputs, weights and thread count,
alternating ours / reference over the rounds; the table shows medians over the rounds.

{CHANGES_HEADING}

Append one row per optimisation, with the numbers of the `Latest run` tables before and after it
(the same machine and command). Runs of `bench/run.py` keep this section as it is.

| date | commit | change | case | ours s before | ours s after | ours/ref before | ours/ref after | note |
|---|---|---|---|---|---|---|---|---|

## Latest run

{BEGIN}
{END}
"""


def write_results(out: Path, section: str, begin: str = BEGIN, end: str = END, heading: str = "## Latest run") -> None:
    """Put ``section`` between the markers ``begin``/``end`` of ``out`` (created from the template when
    missing; the markers are appended under ``heading`` when the file lacks them), keeping everything else."""
    from espnet2_speecht5.checkpoint.io import save_text

    text = out.read_text(encoding="utf-8") if out.is_file() else TEMPLATE
    if begin not in text or end not in text:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n" + begin + "\n" + end + "\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    save_text(head + begin + "\n" + section.strip("\n") + "\n" + end + tail, out)
