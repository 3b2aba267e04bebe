"""ESPnet's Trainer with crash-safe checkpoints and a resume that survives a corrupt checkpoint.

What changes against :class:`espnet2.train.trainer.Trainer` (its training loop is used unchanged):

* Files: ``checkpoint.pth``, ``<n>epoch.pth`` and the n-best averaged models are written through
  :mod:`espnet2_speecht5.checkpoint.atomic_files` (temporary file, fsync, rename, folder fsync). Before
  ``checkpoint.pth`` is replaced, its current content becomes ``checkpoint.prev.pth``, so a
  complete older checkpoint exists at every moment.
* Content: the checkpoint also holds the random generators' states (``random_state``), and the
  reporter is stored in a weights-only loadable form (see :mod:`espnet2_speecht5.train.train_state`).
  ESPnet already stores the model, optimizers, schedulers and the AMP scaler.
* bf16: with ``bf16: true``, the forward passes run under bf16 autocast on the CPU as on a GPU
  (:func:`forward_autocast`); ESPnet's ``use_amp`` is cuda-only.
* Early warnings: after each validation, three validation utterances are decoded greedily and
  logged beside their references (``epoch_samples``), with one warning line for a collapsed decoder;
  and a warning when the training loss falls while validation accuracy stalls for ``trend_patience``
  epochs (:mod:`espnet2_speecht5.train.epoch_samples`).
* Last epochs: with ``keep_last_epochs: N``, each ``<n>epoch.pth`` is also kept in ``last_epochs/``
  (the newest N), and ``last<N>epochs.ave.pth`` is their average when training ends
  (:mod:`espnet2_speecht5.checkpoint.last_epochs`).
* Plots: with ``plot_interval: N``, ESPnet's per-epoch images and attention plots are drawn only
  in epochs divisible by N and in the last epoch (on 2 CPU cores they cost about 3 s an epoch).
* Resume: reads through :func:`espnet2_speecht5.checkpoint.io.load_checkpoint`. A truncated or
  corrupt ``checkpoint.pth`` falls back to ``checkpoint.prev.pth`` with one warning line; when both
  are unusable a one-line :class:`~espnet2_speecht5.checkpoint.io.CheckpointError` names both.
  After loading, ``<n>epoch.pth`` of the resumed epoch and the ``latest.pth`` / ``*.best.pth``
  links are re-created if a kill left them missing or stale, and stale temporary files are removed.

Why the ``torch`` name is substituted: ESPnet's ``Trainer.run`` calls ``torch.save`` inline (and
``average_nbest_models`` calls ``torch.save``/``torch.load``), with no method to override. For the
duration of :meth:`SpeechT5Trainer.run` only, the module-level ``torch`` of those two ESPnet modules
is replaced by a stand-in that forwards every attribute to torch except ``save`` (atomic) and
``load`` (weights-only); it is restored when ``run`` returns or raises. torch itself is not touched.
The symlink updates inside ESPnet's loop (unlink, then symlink) stay as ESPnet does them; a kill
between the two leaves a link missing, which the next resume re-creates.

Test hook: with ``SPEECHT5_CHECKPOINT_PAUSE_S=<seconds>`` in the environment, each write of
``checkpoint.pth`` waits that long between the finished temporary file and the rename, so a test
can kill the process in the middle of a checkpoint write.
"""

from __future__ import annotations

import contextvars
import importlib
import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from espnet2.train.reporter import Reporter
from espnet2.train.trainer import Trainer

from espnet2_speecht5.checkpoint.atomic_files import (
    atomic_copy,
    atomic_symlink,
    atomic_torch_save,
    remove_stale_temporaries,
)
from espnet2_speecht5.checkpoint.io import CheckpointError, load_checkpoint
from espnet2_speecht5.checkpoint.last_epochs import EPOCH_FILE, average_last_epochs, keep_epoch_model
from espnet2_speecht5.distributed.heartbeat import beating
from espnet2_speecht5.runtime.errors import DataError
from espnet2_speecht5.train.epoch_samples import FirstBatchCapture, TrendWatch, log_epoch_samples
from espnet2_speecht5.train.train_state import capture_random_state, from_plain, restore_random_state, to_plain

CHECKPOINT_NAME = "checkpoint.pth"
PAUSE_ENV = "SPEECHT5_CHECKPOINT_PAUSE_S"
FORMAT = "espnet2_speecht5.trainer/1"
# ESPnet modules whose module-level ``torch`` is replaced during run (see the module docstring), with
# the torch functions each one calls through that name (the ones the stand-in replaces)
PATCHED_TORCH_CALLS = {
    "espnet2.train.trainer": ("save",),
    "espnet2.main_funcs.average_nbest_models": ("save", "load"),
}
PATCHED_MODULES = tuple(PATCHED_TORCH_CALLS)
# What SpeechT5Trainer assumes of ESPnet's Trainer (test/test_espnet_hooks.py checks the installed one):
# the parameters of ``run`` (passed on by name to ``super().run``) and of ``resume`` (which ESPnet's
# ``run`` calls by name), and the keyword arguments its ``train_one_epoch`` call passes that the
# wrappers here and in distributed/epoch_hooks.py read.
ESPNET_TRAINER_RUN_PARAMS = (
    "model",
    "optimizers",
    "schedulers",
    "train_iter_factory",
    "valid_iter_factory",
    "plot_attention_iter_factory",
    "trainer_options",
    "distributed_option",
)
ESPNET_TRAINER_RESUME_PARAMS = (
    "checkpoint",
    "model",
    "reporter",
    "optimizers",
    "schedulers",
    "scaler",
    "ngpu",
    "strict",
)
ESPNET_TRAIN_ONE_EPOCH_KWARGS = ("reporter", "distributed_option")

# (trainer options, whether this process writes the files) of the run in progress
_RUN: contextvars.ContextVar[Optional[Tuple[Any, bool]]] = contextvars.ContextVar("speecht5_run", default=None)


def previous_checkpoint(path: Union[str, Path]) -> Path:
    """Where the checkpoint replaced by the last save is kept: ``checkpoint.pth`` -> ``checkpoint.prev.pth``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def _pause_for_tests(tmp: Path) -> None:
    """Wait ``$SPEECHT5_CHECKPOINT_PAUSE_S`` seconds (unset, empty or not a number: no wait)."""
    try:
        seconds = float(os.environ.get(PAUSE_ENV, "") or 0)
    except ValueError:
        seconds = 0.0
    if seconds > 0:
        time.sleep(seconds)


def with_training_state(states: Dict[str, Any]) -> Dict[str, Any]:
    """ESPnet's checkpoint dict made weights-only loadable, plus the random generators' states."""
    out = {key: (value if key == "model" else to_plain(value)) for key, value in states.items()}
    out["random_state"] = capture_random_state()
    out["format"] = FORMAT
    return out


def save_checkpoint_file(obj: Any, f: Any, *args: Any, **kwargs: Any) -> None:
    """The ``torch.save`` that ESPnet's trainer gets during :meth:`SpeechT5Trainer.run`."""
    if not isinstance(f, (str, os.PathLike)):  # a file object: nothing to make atomic
        torch.save(obj, f, *args, **kwargs)
        return
    path = Path(f)
    if path.name == CHECKPOINT_NAME and isinstance(obj, dict) and "model" in obj and "reporter" in obj:
        atomic_torch_save(with_training_state(obj), path, previous_checkpoint(path), _pause_for_tests)
    else:
        atomic_torch_save(obj, path)
        run = _RUN.get()
        keep = getattr(run[0], "keep_last_epochs", 0) if run is not None else 0
        if keep > 0 and run is not None and run[1] and EPOCH_FILE.match(path.name):
            keep_epoch_model(path, keep)


def load_checkpoint_file(f: Any, *args: Any, **kwargs: Any) -> Any:
    """The ``torch.load`` that ESPnet's n-best averaging gets: weights-only, on the CPU (as ESPnet asks)."""
    return load_checkpoint(f)


class _TorchWithSafeFiles:
    """Forwards every attribute to the real torch module except ``save`` and ``load``."""

    save = staticmethod(save_checkpoint_file)
    load = staticmethod(load_checkpoint_file)

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)


@contextmanager
def safe_checkpoint_files() -> Iterator[None]:
    """Within the block, ESPnet's trainer and n-best averaging save atomically and load weights-only."""
    modules = [importlib.import_module(name) for name in PATCHED_MODULES]
    originals = [module.torch for module in modules]
    stand_in = _TorchWithSafeFiles()
    for module in modules:
        module.torch = stand_in
    try:
        yield
    finally:
        for module, original in zip(modules, originals):
            module.torch = original


def _read_training_checkpoint(path: Path) -> Dict[str, Any]:
    # real_values: checkpoints written by ESPnet's own Trainer keep timedeltas and numpy scalars
    states = load_checkpoint(path, real_values=True)
    if not isinstance(states, dict) or "model" not in states or "reporter" not in states:
        raise CheckpointError("not a training checkpoint (no 'model' and 'reporter' entries)", path)
    return states


def load_resume_checkpoint(checkpoint: Union[str, Path], repair: bool = False) -> Tuple[Dict[str, Any], Path]:
    """Read ``checkpoint``, or ``checkpoint.prev.pth`` when it is unusable (one warning line names both).

    Args:
        checkpoint: usually ``<output_dir>/checkpoint.pth``.
        repair: after a fallback, replace the unusable file by the previous one, so that the next
            save keeps a good file as ``checkpoint.prev.pth``.

    Returns:
        The states and the file they came from.

    Raises:
        CheckpointError: one line naming both files, when neither can be used.
    """
    checkpoint = Path(checkpoint)
    previous = previous_checkpoint(checkpoint)
    try:
        return _read_training_checkpoint(checkpoint), checkpoint
    except CheckpointError as err:
        first = err
    try:
        states = _read_training_checkpoint(previous)
    except CheckpointError as err:
        raise CheckpointError(
            f"cannot resume training: neither {checkpoint} nor {previous} can be used ({first.message}; {err.message})"
        ) from None
    logging.warning(f"Checkpoint {checkpoint} is unusable ({first.message}); resuming from {previous} instead")
    if repair:
        atomic_copy(previous, checkpoint, hard_link=False)  # two independent copies again
    return states, previous


def repair_epoch_outputs(
    output_dir: Path, reporter: Reporter, model_state: Dict[str, torch.Tensor], criteria: Sequence[Sequence[str]]
) -> List[str]:
    """Re-create what ESPnet writes after ``checkpoint.pth`` in an epoch, if a kill left it missing.

    That is ``<epoch>epoch.pth`` of the checkpoint's epoch (from its model state), ``latest.pth``
    and the ``<phase>.<key>.best.pth`` links. Returns the names written (logged at INFO level).
    """
    epoch = reporter.get_epoch()
    if epoch < 1:
        return []
    written = []
    epoch_file = output_dir / f"{epoch}epoch.pth"
    if not epoch_file.is_file():
        atomic_torch_save(model_state, epoch_file)
        written.append(epoch_file.name)
    links = {"latest.pth": epoch_file.name}
    for phase, key, mode in criteria:
        try:
            best = reporter.get_best_epoch(phase, key, mode)
        except (KeyError, IndexError):
            continue
        if (output_dir / f"{best}epoch.pth").is_file():
            links[f"{phase}.{key}.best.pth"] = f"{best}epoch.pth"
    for name, target in links.items():
        link = output_dir / name
        if not (link.is_symlink() and os.readlink(link) == target):
            atomic_symlink(link, target)
            written.append(name)
    if written:
        logging.info("Restored after an interrupted epoch: " + ", ".join(written))
    return written


NON_FINITE_PREFIX = "The grad norm is "  # ESPnet's warning when it skips an update (espnet2/train/trainer.py)


class _SkippedUpdateCounter(logging.Filter):
    """Counts ESPnet's "The grad norm is nan/inf. Skipping updating the model." warnings (lets them through)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and str(record.msg).startswith(NON_FINITE_PREFIX):
            self.count += 1
        return True


@contextmanager
def forward_autocast(enabled: bool, device: str) -> Iterator[None]:
    """With ``enabled``, every forward pass of ESPnet's training and validation loops runs under
    ``torch.autocast(device, torch.bfloat16)``; backward passes and optimizer steps stay outside it.

    ESPnet's loops wrap each forward in ``autocast(use_amp, ...)``, its ``torch.cuda.amp`` alias,
    which does nothing on the CPU. For the duration of the run that name is pointed at torch's
    device-generic autocast in bf16 instead (bf16 keeps fp32's exponent range, so no loss scaler).
    """
    if not enabled:
        yield
        return
    import espnet2.train.trainer as espnet_trainer

    from espnet2_speecht5.runtime.cpu_features import warn_if_bf16_emulated

    if device == "cpu":
        warn_if_bf16_emulated("bf16")
    logging.info("bf16: forward passes run under torch.autocast(%s, bfloat16)", device)

    def bf16_autocast(enabled: bool = True, **_: Any) -> Any:
        return torch.autocast(device_type=device, dtype=torch.bfloat16)

    saved = espnet_trainer.autocast
    espnet_trainer.autocast = bf16_autocast
    try:
        yield
    finally:
        espnet_trainer.autocast = saved


def epoch_mean(reporter: Any, key: str) -> Optional[float]:
    """The epoch's average of ``key`` in an ESPnet sub-reporter (None where it has no such value)."""
    from espnet2.train.reporter import aggregate

    values = getattr(reporter, "stats", {}).get(key) if reporter is not None else None
    if not values:
        return None
    try:
        value = float(aggregate(values))
    except (TypeError, ValueError, AssertionError):
        return None
    return value if value == value else None  # NaN: none


def plots_due(options: Any, epoch: int) -> bool:
    """Whether epoch ``epoch`` draws its images: every ``plot_interval``-th epoch and the last one."""
    interval = getattr(options, "plot_interval", 1)
    return interval <= 1 or epoch % interval == 0 or epoch >= options.max_epoch


class SpeechT5Trainer(Trainer):
    """ESPnet's Trainer with atomic checkpoint files, a fallback checkpoint and full-state resume."""

    @classmethod
    def run(
        cls,
        model: torch.nn.Module,
        optimizers: Sequence[torch.optim.Optimizer],
        schedulers: Sequence[Any],
        train_iter_factory: Any,
        valid_iter_factory: Any,
        plot_attention_iter_factory: Any,
        trainer_options: Any,
        distributed_option: Any,
    ) -> None:
        """ESPnet's ``Trainer.run`` with the file handling described in the module docstring."""
        writer = not distributed_option.distributed or distributed_option.dist_rank == 0
        if writer:
            remove_stale_temporaries(trainer_options.output_dir)
        token = _RUN.set((trainer_options, writer))
        device = "cuda" if distributed_option.ngpu > 0 else "cpu"
        try:
            with safe_checkpoint_files(), forward_autocast(getattr(trainer_options, "bf16", False), device):
                super().run(
                    model=model,
                    optimizers=optimizers,
                    schedulers=schedulers,
                    train_iter_factory=train_iter_factory,
                    valid_iter_factory=valid_iter_factory,
                    plot_attention_iter_factory=plot_attention_iter_factory,
                    trainer_options=trainer_options,
                    distributed_option=distributed_option,
                )
        finally:
            _RUN.reset(token)
        keep = getattr(trainer_options, "keep_last_epochs", 0)
        if keep > 0 and writer:
            average_last_epochs(trainer_options.output_dir, keep)

    @classmethod
    def build_options(cls, args: Any) -> Any:
        """ESPnet's trainer options, plus ``keep_last_epochs`` (see :mod:`espnet2_speecht5.checkpoint.last_epochs`)."""
        options = super().build_options(args)
        options.keep_last_epochs = int(getattr(args, "keep_last_epochs", 0) or 0)
        options.bf16 = bool(getattr(args, "bf16", False))
        options.plot_interval = int(getattr(args, "plot_interval", 1))
        options.epoch_samples = bool(getattr(args, "epoch_samples", True))
        patience = int(getattr(args, "trend_patience", 5) or 0)
        if patience < 0:
            raise DataError(f"trend_patience must be 0 (off) or more, not {patience}")
        if patience:
            options.trend_watch = TrendWatch(patience=patience)
        if options.plot_interval < 1:
            raise DataError(f"plot_interval must be 1 or more, not {options.plot_interval}")
        # ESPnet reads use_matplotlib in every epoch; train_one_epoch turns it on and off per epoch.
        options.use_matplotlib_always = options.use_matplotlib
        if options.bf16 and options.use_amp:
            raise DataError("give use_amp (ESPnet's float16/bfloat16 on a GPU, with a loss scaler) or bf16, not both")
        if options.keep_last_epochs < 0:
            raise DataError(f"keep_last_epochs must be 0 or more, not {options.keep_last_epochs}")
        return options

    @classmethod
    def plot_attention(cls, *args: Any, **kwargs: Any) -> None:
        """ESPnet's attention plots, in the epochs that :func:`plots_due` names."""
        options = kwargs.get("options")
        epoch = getattr(kwargs.get("reporter"), "epoch", None)
        if options is not None and isinstance(epoch, int) and not plots_due(options, epoch):
            return
        super().plot_attention(*args, **kwargs)

    @classmethod
    def train_one_epoch(cls, *args: Any, **kwargs: Any) -> bool:
        """ESPnet's epoch, plus one warning line counting the updates it skipped for a non-finite
        loss or gradient (ESPnet warns for each one but keeps no count). It also sets whether the
        images are drawn after this epoch (ESPnet's ``use_matplotlib``, see :func:`plots_due`)."""
        options = kwargs.get("options")
        epoch = getattr(kwargs.get("reporter"), "epoch", None)
        if options is not None and isinstance(epoch, int):
            options.use_matplotlib = options.use_matplotlib_always and plots_due(options, epoch)
        if "iterator" in kwargs:  # each batch touches the rank's heartbeat file under ddp_launch
            kwargs["iterator"] = beating(kwargs["iterator"])
        counter = _SkippedUpdateCounter()
        root = logging.getLogger()
        root.addFilter(counter)
        try:
            result = super().train_one_epoch(*args, **kwargs)
        finally:
            root.removeFilter(counter)
        if options is not None and hasattr(options, "trend_watch"):
            options.trend_train_loss = epoch_mean(kwargs.get("reporter"), "loss")
        if counter.count:
            epoch = getattr(kwargs.get("reporter"), "epoch", "?")
            logging.warning(
                f"epoch {epoch}: skipped {counter.count} update(s) with a non-finite loss or gradient "
                "(those batches are left out of the epoch's statistics)"
            )
        return result

    @classmethod
    def validate_one_epoch(cls, *args: Any, **kwargs: Any) -> None:
        """ESPnet's validation; each batch touches the rank's heartbeat file under ddp_launch. Then, on
        the writing rank, the early warnings of :mod:`espnet2_speecht5.train.epoch_samples`: three
        validation utterances decoded (``epoch_samples``) and the loss/accuracy trend (``trend_patience``)."""
        options = kwargs.get("options")
        run = _RUN.get()
        watch = options is not None and run is not None and run[1] and getattr(options, "epoch_samples", False)
        capture = None
        if "iterator" in kwargs:
            kwargs["iterator"] = beating(kwargs["iterator"])
            if watch:
                capture = kwargs["iterator"] = FirstBatchCapture(kwargs["iterator"])
        super().validate_one_epoch(*args, **kwargs)
        if not watch:
            return
        reporter = kwargs.get("reporter")
        epoch = getattr(reporter, "epoch", "?")
        model = kwargs.get("model", args[0] if args else None)
        if capture is not None and model is not None and getattr(getattr(model, "module", model), "sample_kind", None):
            log_epoch_samples(model, capture, epoch)
        trend = getattr(options, "trend_watch", None)
        if trend is not None:
            acc = epoch_mean(reporter, "acc")
            trend.metric, trend.higher_is_better = ("acc", True) if acc is not None else ("loss", False)
            valid = acc if acc is not None else epoch_mean(reporter, "loss")
            trend.add(getattr(options, "trend_train_loss", None), valid)
            warning = trend.check()
            if warning:
                logging.warning(f"epoch {epoch}: {warning}")

    @classmethod
    def resume(
        cls,
        checkpoint: Union[str, Path],
        model: torch.nn.Module,
        reporter: Reporter,
        optimizers: Sequence[torch.optim.Optimizer],
        schedulers: Sequence[Any],
        scaler: Optional[Any],
        ngpu: int = 0,
        strict: bool = True,
    ) -> None:
        """Restore model, reporter, optimizers, schedulers, AMP scaler and random generators.

        Tensors are read on the CPU; ``load_state_dict`` moves them to the model's and the
        optimizers' devices.
        """
        run = _RUN.get()
        writer = run is not None and run[1]
        states, source = load_resume_checkpoint(checkpoint, repair=writer)
        model.load_state_dict(states["model"], strict=strict)
        reporter.load_state_dict(from_plain(states["reporter"]))
        for optimizer, state in zip(optimizers, states["optimizers"]):
            optimizer.load_state_dict(state)
        for scheduler, state in zip(schedulers, states["schedulers"]):
            if scheduler is not None:
                scheduler.load_state_dict(from_plain(state))
        if scaler is not None:
            if states.get("scaler") is None:
                logging.warning("The checkpoint holds no AMP scaler state")
            else:
                scaler.load_state_dict(states["scaler"])
        if "random_state" in states:
            restore_random_state(states["random_state"])
        else:
            logging.warning(f"{source} holds no random generator states (written by another trainer)")
        if writer:
            repair_epoch_outputs(Path(source).parent, reporter, states["model"], run[0].best_model_criterion)
        # ESPnet's wording (recipes and tests look for it), plus the epoch
        logging.info(f"The training was resumed using {source} (after epoch {reporter.get_epoch()})")
