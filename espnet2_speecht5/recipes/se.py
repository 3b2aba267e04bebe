"""Speech enhancement: noisy speech in, clean speech out. Stages 1-5 so far."""

from espnet2_speecht5.recipes.base import TaskRecipe

RECIPE = TaskRecipe(
    name="se",
    description="speech enhancement: noisy speech in, clean speech out",
    kind="s2s",
    required_files=("wav.scp", "wav_tgt.scp", "utt2spk", "spk2utt"),
    output="wav",
    metrics=("pesq", "stoi", "cer", "pesq_noisy", "stoi_noisy", "cer_noisy", "cer_clean"),
    transformers_class="SpeechT5ForSpeechToSpeech",
)
