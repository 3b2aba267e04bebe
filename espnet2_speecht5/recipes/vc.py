"""Voice conversion: a source speaker's speech in, the same sentence in the target speaker's voice out.
Stages 1-5 so far."""

from espnet2_speecht5.recipes.base import TaskRecipe

RECIPE = TaskRecipe(
    name="vc",
    description="voice conversion: speech in, the same words in another voice out",
    kind="s2s",
    required_files=("wav.scp", "wav_tgt.scp", "utt2spk", "spk2utt", "utt2spk_tgt"),
    aux_targets="speaker_embeddings",
    output="wav",
    metrics=("mcd", "mcd_source", "cer", "spk_sim_target", "spk_sim_source"),
    transformers_class="SpeechT5ForSpeechToSpeech",
)
