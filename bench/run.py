"""Benchmark our SpeechT5 against transformers' SpeechT5 on the same machine, and write bench/RESULTS.md.

Cases (issue 7): a ASR greedy, b ASR beam 5 (ours without / with CTC), c TTS generation + HiFi-GAN,
d speech-to-text training step, e TTS training step, f peak memory (columns of every row), g fp32
matmul probe and model FLOP utilisation of d and e, h the mini ASR recipe's wall time (``--cases h`` or
``--recipe``; it has no reference and its own section of RESULTS.md, kept by runs of the other cases).

Each case runs every implementation in its own process (bench/worker.py), alternating them over the
rounds, with the same inputs, weights and thread count; the table shows medians. ``--quick`` runs
every case once on a tiny network, only to check that the harness works (CI).

Examples::

    tools/venv/bin/python bench/run.py                     # the full CPU benchmark, 2 threads
    tools/venv/bin/python bench/run.py --cases a,c --rounds 3 --out /tmp/RESULTS.md
    tools/venv/bin/python bench/run.py --device cuda       # bf16 autocast, rates and GPU FLOP utilisation
    tools/venv/bin/python bench/run.py --cases h           # the README's main job, stages 1-13 (about 12 min)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

import recipe_case
import reporting
from workloads import ALL_CASES, BASE, CASE_VARIANTS, QUICK, TRAINING_CASES, Workload

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORKER = BENCH_DIR / "worker.py"
WORKER_TIMEOUT_S = 3600


class BenchError(RuntimeError):
    """A worker or the recipe failed; the message names the command and ends with its stderr."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny network, 1 round: checks that the harness runs")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch/OpenMP/MKL threads of every worker")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds per case (default 5 for inference; also the training default when given)")
    parser.add_argument("--train_rounds", type=int, default=None, help="rounds of the training cases (default 3)")
    parser.add_argument("--cases", default=",".join(ALL_CASES),
                        help="comma-separated subset of a,b,c,d,e,g,h (h: the mini ASR recipe, stages 1-13)")
    parser.add_argument("--recipe", action="store_true", help="also run case h")
    parser.add_argument("--peak_tflops", type=float, default=None,
                        help="the GPU's dense bf16 peak when its name is not in the built-in table")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "RESULTS.md")
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in ALL_CASES and c != "h"]
    if unknown:
        parser.error(f"unknown case(s) {','.join(unknown)}; choose from {','.join(ALL_CASES)},h")
    args.case_list = [c for c in ALL_CASES if c in cases]
    args.recipe = args.recipe or "h" in cases
    if args.recipe and args.quick:
        parser.error("--quick runs the network cases only; run case h on its own (--cases h)")
    for name in ("threads", "rounds", "train_rounds"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def rounds_for(case: str, args: argparse.Namespace) -> int:
    if args.quick:
        return 1
    if case in TRAINING_CASES:
        return args.train_rounds or args.rounds or 3
    return args.rounds or 5


def worker_env(threads: int) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        TRANSFORMERS_VERBOSITY="error",
        HF_HUB_OFFLINE="1",
        PYTHONWARNINGS="ignore",
    )
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def run_worker(options: List[str], args: argparse.Namespace, weights: Path, size: str) -> Dict[str, Any]:
    """Run bench/worker.py with ``options`` and return its JSON result."""
    cmd = [sys.executable, str(WORKER), *options, "--weights", str(weights), "--size", size,
           "--device", args.device, "--threads", str(args.threads), "--seed", str(args.seed)]
    proc = subprocess.run(cmd, cwd=REPO, env=worker_env(args.threads), capture_output=True, text=True,
                          timeout=WORKER_TIMEOUT_S, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("BENCH_JSON ")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise BenchError(f"worker failed (exit {proc.returncode}): {shlex.join(cmd)}\n{tail}")
    return json.loads(lines[-1][len("BENCH_JSON "):])


def log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_cases(args: argparse.Namespace, work: Workload, weights: Path) -> Dict[reporting.Key, List[Dict[str, Any]]]:
    """Every round of every selected case: within a round each implementation runs once, in the order
    of CASE_VARIANTS (ours, reference, ...), so the implementations alternate over the rounds."""
    results: Dict[reporting.Key, List[Dict[str, Any]]] = {}
    for case in args.case_list:
        for round_index in range(rounds_for(case, args)):
            for impl, variant in CASE_VARIANTS[case]:
                options = ["--case", case, "--impl", impl] + (["--variant", variant] if variant else [])
                result = run_worker(options, args, weights, work.size)
                results.setdefault((case, impl, variant), []).append(result)
                log(f"case {case} round {round_index + 1} {impl} {variant}: {result['seconds']['total']:.3f} s")
    return results


# ---------------------------------------------------------------------------------------- report
def notes(work: Workload, args: argparse.Namespace) -> List[str]:
    """How each case is set up, so a reader can judge the comparison."""
    steps = work.tts_frames // 2
    size = ("base (ours `SpeechT5Config.base()`, transformers' `SpeechT5Config()` defaults)" if work.size == "base"
            else "tiny (`--quick`: the numbers mean nothing)")
    return [
        f"Networks: {size}, with layer drop set to 0 on both sides so that every step does the same work; random "
        "weights, ported from the transformers model into ours (`hf_to_ours`), so both hold the same numbers; "
        f"{'fp32' if args.device == 'cpu' else 'bf16 autocast'}; `torch.no_grad()` around every inference case.",
        f"a: ours `greedy_speech_to_text(max_len={work.asr_tokens + 1}, min_len={work.asr_tokens + 1})`; reference "
        f"`generate(num_beams=1, min_new_tokens={work.asr_tokens}, max_new_tokens={work.asr_tokens})`.",
        f"b: ours ESPnet `BatchBeamSearch` as in `Speech2Text` (decoder scorer, length bonus 0, and in the CTC row "
        f"our scan-based CTC prefix scorer, weight 0.3) on `SpeechT5ASRModel.encode`, with "
        f"`maxlenratio=-{work.asr_tokens}`, `minlenratio=-{work.asr_tokens - 1}` and a bench-only scorer giving eos "
        "-inf (as transformers' "
        f"`min_new_tokens`), so all {work.beam} hypotheses run for exactly {work.asr_tokens} tokens; reference "
        f"`generate(num_beams={work.beam}, min/max_new_tokens={work.asr_tokens})`.",
        f"c: ours `generate_speech(fixed_steps={steps})` after `net.encode`, then our `HifiGanGenerator`; reference "
        f"`generate_speech` with min/max length ratios giving {steps} steps, then `SpeechT5HifiGan`. Both apply the "
        "speech-decoder pre-net dropout while generating (transformers always does; ours by default).",
        "d: forward + backward + AdamW step. Ours `SpeechT5ASRModel.forward` (label smoothing 0.1; CTC weight 0 "
        "or 0.3); reference `SpeechT5ForSpeechToText(input_values, attention_mask, labels + eos).loss`.",
        "e: ours `SpeechT5TTSModel.forward`, which computes its log-mel targets from a waveform of exactly "
        f"{work.tts_frames} frames (that extraction is also timed on its own, and subtracted in the second e row); "
        "reference `SpeechT5ForTextToSpeech(input_ids, labels=mel, speaker_embeddings).loss`; both with the "
        "guided attention loss.",
        f"f: {work.testset_utts} utterances of {work.testset_seconds[0]:g}-{work.testset_seconds[1]:g} s (noise), "
        f"beam {work.beam}, every hypothesis forced to {work.testset_tokens} tokens (eos -inf), decoder only on both "
        "sides. Ours: each utterance encoded alone, then one `UtteranceBatchBeamSearch` over all of them (what "
        "`Speech2Text.batch` and stage 9 with `batch_size` > 1 run); reference: `generate(num_beams, min/max_new_"
        f"tokens, attention_mask)` over length-sorted padded batches of each size in {list(work.testset_batches)}, "
        "the fastest size counting (each size's time is in the parts table).",
        "int8 rows: ours with every linear layer an `Int8DynamicLinear` (`--quantize_model`: kernel "
        "`fbgemm_rows`, fbgemm's dynamic int8 linear operator on rows scaled one by one, where torch has it, "
        "`torch._int_mm` otherwise; "
        "runs up to 6f1191a used kernel `fbgemm`, one activation scale per call); the reference fp32, or with "
        "`torch.ao.quantization.quantize_dynamic` (qint8 linear layers) in the torch.ao rows. The `bf16_encoder` row: "
        "ours int8, with the encoder (waveform pre-net included) under bf16 autocast and the decoder outside it.",
        "bf16 rows: the forward pass under `torch.autocast('cpu', torch.bfloat16)` on both sides (ours: the "
        "`bf16: true` training option), backward and AdamW outside it; weights stay fp32.",
        "Memory: peak RSS of the worker process during the timed part (the kernel's peak counter is reset "
        "just before it), so it includes the weights and the imported libraries; RSS growth = that peak minus "
        "the RSS just before the timed part. On cuda the memory columns are `torch.cuda.max_memory_allocated`.",
        "MFU: FLOPs of one training step (FlopCounterMode, counted during the warm-up step, each implementation "
        "its own) / median step time / "
        + ("the matmul probe's FLOP/s (case g)." if args.device == "cpu" else "the GPU's dense bf16 peak."),
        "Each worker builds its model, runs the workload once to warm up, then times one run.",
    ]


def render(args: argparse.Namespace, work: Workload, results: Dict[reporting.Key, List[Dict[str, Any]]],
           prep: Dict[str, Any], command: str, commit: str, wall: float) -> str:
    """The ``Latest run`` section of RESULTS.md (also printed); ``commit`` as it was when the run started."""
    cuda = args.device == "cuda"
    device_name = prep.get("device_name", "cpu")
    probe = reporting.probe_flops_per_s(results)
    limit = reporting.gpu_peak_flops(device_name, args.peak_tflops) if cuda else probe
    lines = reporting.summarise(results, work)
    out = [f"Run on {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, {wall / 60:.1f} min in all.", ""]
    out += ["| machine | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in reporting.machine(commit, device_name, args.threads, args.device)]
    out += [f"| command | `{command}` |"]
    if "load_1min" in prep:
        before, after = prep["load_1min"]
        out += [f"| 1-min load average | {before:.2f} at the start, {after:.2f} at the end (above the thread "
                "count: something else used the CPUs) |"]
    counts = sorted({rounds_for(c, args) for c in args.case_list})
    out += [f"| rounds | {', '.join(map(str, counts))} (inference {rounds_for('a', args)}, training "
            f"{rounds_for('d', args)}) |", ""]
    bf16_probe = reporting.probe_flops_per_s(results, "bf16")
    out += ["### Medians and ratios (ours / reference)", "",
            reporting.markdown_table(lines, limit, cuda, None if cuda else bf16_probe), ""]
    if probe is not None:
        dtype = results[("g", "probe", "")][0]["info"]["dtype"]
        out += [f"g: matmul probe {work.matmul_n} x {work.matmul_n} @ {work.matmul_n} x {work.matmul_n} ({dtype}, "
                f"best of 5 per round): {probe / 1e9:.1f} GFLOP/s."
                + (f" The same probe in bfloat16: {bf16_probe / 1e9:.1f} GFLOP/s." if bf16_probe else ""), ""]
    if cuda and limit is not None:
        out += [f"GPU bf16 dense peak used for MFU: {limit / 1e12:.0f} TFLOP/s.", ""]
    floor = reporting.decode_floor(results)
    if floor is not None:
        out += [floor, ""]
    out += ["### How each case is run", ""] + [f"- {n}" for n in notes(work, args)]
    out += ["", "### Timed parts (medians)", "", reporting.parts_table(results), ""]
    out += ["### Memory per worker (medians)", "", reporting.memory_table(results), ""]
    out += [f"Parameters: {json.dumps(prep.get('parameters', {}))}. Raw rounds: "
            f"`{args.out.with_suffix('.json').name}`."]
    return "\n".join(out)


def check_finite(lines: List[reporting.Line]) -> None:
    bad = [line.row.label for line in lines if not math.isfinite(line.time_ratio)]
    if bad:
        raise BenchError(f"non-finite ratios in: {bad}")


def run_network_cases(args: argparse.Namespace, command: str, commit: str) -> None:
    """Cases a-g: run them, print and write the ``Latest run`` section and the raw rounds."""
    work = QUICK if args.quick else BASE
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="speecht5_bench_") as tmp:
        weights = Path(tmp) / "weights"
        log(f"preparing random {work.size} weights")
        prep = run_worker(["--prepare"], args, weights, work.size)
        load_before = os.getloadavg()[0]
        results = run_cases(args, work, weights)
        prep["load_1min"] = [load_before, os.getloadavg()[0]]
    wall = time.perf_counter() - start
    section = render(args, work, results, prep, command, commit, wall)
    print(section)
    check_finite(reporting.summarise(results, work))
    reporting.write_results(args.out, section)
    raw = {"workload": work.to_dict(), "command": command, "device": args.device, "threads": args.threads,
           "prepare": prep,
           "rounds": [{"case": c, "impl": i, "variant": v, "results": r} for (c, i, v), r in results.items()]}
    from espnet2_speecht5.checkpoint.io import save_text

    save_text(json.dumps(raw, indent=1) + "\n", args.out.with_suffix(".json"))
    log(f"wrote {args.out} and {args.out.with_suffix('.json').name}")


def run_case_h(args: argparse.Namespace, commit: str) -> None:
    """Case h: the mini recipe in a temporary folder; its own section of RESULTS.md and ``RESULTS_h.json``."""
    from espnet2_speecht5.checkpoint.io import save_text

    log("case h: the mini ASR recipe, stages 1-13 (about 12 minutes on 2 cores)")
    with tempfile.TemporaryDirectory(prefix="speecht5_bench_h_") as tmp:
        try:
            result = recipe_case.run_recipe(REPO, Path(tmp))
        except recipe_case.RecipeError as err:
            raise BenchError(str(err)) from None
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = reporting.machine(commit, "cpu", args.threads, "cpu")
    section = recipe_case.render(result, [row for row in machine if row[0] != "threads"], when)
    print(section)
    reporting.write_results(args.out, section, begin=recipe_case.H_BEGIN, end=recipe_case.H_END, heading="## Case h")
    json_path = args.out.with_name(args.out.stem + "_h.json")
    save_text(json.dumps(result, indent=1) + "\n", json_path)
    log(f"wrote case h into {args.out} and {json_path.name}")


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    command = "tools/venv/bin/python bench/run.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    commit = reporting.git_commit(REPO)
    if args.case_list:
        run_network_cases(args, command, commit)
    if args.recipe:
        run_case_h(args, commit)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as err:
        print(f"bench/run.py: {err}", file=sys.stderr)
        sys.exit(1)
