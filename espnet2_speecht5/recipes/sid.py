"""Speaker identification: speech in, one speaker label out. Stages 1-5 so far."""

from espnet2_speecht5.recipes.base import TaskRecipe

RECIPE = TaskRecipe(
    name="sid",
    description="speaker identification: speech in, a speaker label out",
    kind="s2t",
    required_files=("wav.scp", "utt2spk", "spk2utt"),
    token_lists="speakers",
    output="label",
    metrics=("accuracy", "top5"),
    no_export_reason="transformers has no SpeechT5 speaker-identification class",
)
