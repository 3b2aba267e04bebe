"""Speech translation: source speech in, target-language text out. Stages 1-5 so far."""

from espnet2_speecht5.recipes.base import TaskRecipe

RECIPE = TaskRecipe(
    name="st",
    description="speech translation: speech in, text of another language out",
    kind="s2t",
    required_files=("wav.scp", "text", "text.tgt", "utt2spk", "spk2utt"),
    text_files=("text", "text.tgt"),
    token_lists="source_target",
    metrics=("bleu", "chrf"),
    transformers_class="SpeechT5ForSpeechToText",
)
