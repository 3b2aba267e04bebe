"""ASR: speech in, text out (SpeechT5's speech-encoder pre-net, encoder, text decoder), scored by sclite."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from espnet2_speecht5.recipes.base import Context, TaskRecipe
from espnet2_speecht5.recipes.text_scoring import sclite_section, score_text_set


class ASRRecipe(TaskRecipe):
    """Speech recognition (stages 1-13)."""

    def data_options(self, ctx: Context, mode: str, data: Path) -> List[str]:
        if mode == "test":
            # one utterance at a time: the beam search decodes utterance by utterance
            return ["--data_path_and_name_and_type", f"{data}/wav.scp,speech,sound", "--batch_size", "1"]
        return [f"--{mode}_data_path_and_name_and_type", f"{data}/wav.scp,speech,sound",
                f"--{mode}_data_path_and_name_and_type", f"{data}/text,text,text"]

    def score(self, ctx: Context, dset: str, decode_dir: Path, model: str) -> Dict[str, object]:
        return score_text_set(self, ctx, dset, decode_dir, model, metrics=("cer", "wer"))

    def results_section(self, exp_dir: Path, rows: Sequence[Tuple[str, Dict[str, object]]]) -> str:
        return sclite_section(rows)


RECIPE = ASRRecipe(
    name="asr",
    description="speech recognition: speech in, text out",
    kind="s2t",
    trained=True,
    espnet_task="espnet2_speecht5.tasks.asr:ASRTask",
    train_module="espnet2_speecht5.bin.asr_train",
    inference_module="espnet2_speecht5.bin.asr_inference",
    required_files=("wav.scp", "text", "utt2spk", "spk2utt"),
    text_files=("text",),
    token_lists="source",
    shape_keys=("speech", "text"),
    fold_lengths=(80000, 150),
    vocab_shape_keys=("text",),
    inference_models=("valid.acc.ave.pth", "valid.acc.best.pth", "latest.pth"),
    output="text",
    metrics=("cer", "wer"),
    pack_kind="asr",
    transformers_class="SpeechT5ForSpeechToText",
)
