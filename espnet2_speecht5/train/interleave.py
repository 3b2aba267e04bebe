"""Speech and text mini-batches in one epoch, by a schedule that depends only on the step index.

Joint pre-training alternates speech batches and text batches. Under DDP every rank must run the
same modality at the same step (the trainer averages the reported statistics of all ranks at every
step, and the two modalities report different ones), so the order is not drawn at random: it is a
fixed function of the number of speech batches and the ratio (:func:`modality_schedule`). Every
rank holds the same number of speech batches (ESPnet shards each batch over the ranks), hence the
same schedule.

An epoch is one pass over the speech batches; ``ratio`` text batches follow each speech batch on
average. The text batches of an epoch are drawn by their own factory (built with
``num_iters_per_epoch`` = the number of text steps), which continues through the text corpus from
epoch to epoch and reshuffles it per corpus pass with ESPnet's seeding, so a resumed run sees the
same batches.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from espnet2.iterators.abs_iter_factory import AbsIterFactory

SPEECH, TEXT = 0, 1
Batch = Tuple[List[str], Dict[str, Any]]


def text_steps(speech_steps: int, ratio: float) -> int:
    """Text batches in an epoch of ``speech_steps`` speech batches: ``floor(speech_steps * ratio)``."""
    if ratio < 0:
        raise ValueError(f"the text batch ratio must be >= 0, got {ratio}")
    return int(math.floor(speech_steps * ratio + 1e-9))


def modality_schedule(speech_steps: int, ratio: float) -> List[int]:
    """The modality of each step: :data:`SPEECH` or :data:`TEXT`.

    After the ``i``-th speech batch (from 1) come as many text batches as bring their count to
    ``floor(i * ratio)``: ratio 1 alternates S T S T, 0.5 gives S S T S S T, 2 gives S T T S T T.
    """
    schedule: List[int] = []
    done = 0
    for index in range(1, speech_steps + 1):
        schedule.append(SPEECH)
        due = text_steps(index, ratio)
        schedule.extend([TEXT] * (due - done))
        done = due
    return schedule


class InterleavedIterator:
    """Iterate two batch iterables in the order of ``schedule``; ``len()`` is the number of steps."""

    def __init__(self, speech: Iterable[Batch], text: Optional[Iterable[Batch]], schedule: List[int]) -> None:
        self.speech = speech
        self.text = text
        self.schedule = schedule

    def __len__(self) -> int:
        return len(self.schedule)

    def __iter__(self) -> Iterator[Batch]:
        speech = iter(self.speech)
        text = iter(self.text) if self.text is not None else iter(())
        for step, modality in enumerate(self.schedule):
            source = speech if modality == SPEECH else text
            try:
                yield next(source)
            except StopIteration:
                name = "speech" if modality == SPEECH else "text"
                raise RuntimeError(f"the {name} iterator ran out at step {step} of {len(self.schedule)}") from None


class InterleavedIterFactory(AbsIterFactory):
    """Build each epoch's iterator from a speech factory and a text factory.

    Args:
        speech: factory of speech batches; its batch count per epoch sets the epoch length.
        text: factory of text batches (None: speech only).
        ratio: text batches per speech batch (training); the text factory must yield
            :func:`text_steps` batches per epoch.
        sequential: all speech batches, then all text batches (validation), instead of interleaving.
    """

    def __init__(
        self, speech: AbsIterFactory, text: Optional[AbsIterFactory], ratio: float, sequential: bool = False
    ) -> None:
        if ratio < 0:
            raise ValueError(f"the text batch ratio must be >= 0, got {ratio}")
        self.speech = speech
        self.text = text
        self.ratio = ratio
        self.sequential = sequential

    def build_iter(self, epoch: int, shuffle: Optional[bool] = None) -> InterleavedIterator:
        speech = self.speech.build_iter(epoch, shuffle)
        text = None if self.text is None else self.text.build_iter(epoch, shuffle)
        speech_steps = len(speech)
        if text is None:
            schedule = [SPEECH] * speech_steps
        elif self.sequential:
            schedule = [SPEECH] * speech_steps + [TEXT] * len(text)
        else:
            schedule = modality_schedule(speech_steps, self.ratio)
            wanted = schedule.count(TEXT)
            if len(text) < wanted:
                raise RuntimeError(f"the text factory yields {len(text)} batches, the schedule needs {wanted}")
        return InterleavedIterator(speech, text, schedule)
