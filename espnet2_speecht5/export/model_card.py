"""Stage 13: the README.md model card of an exported model folder.

The exported folder holds two layouts side by side at its top level:

* ESPnet's model-zoo layout (the stage-12 zip's contents: ``meta.yaml`` names the training config
  and the model file under their ``exp/...`` paths), which ``espnet_model_zoo`` and our
  ``Speech2Text`` / ``Text2Speech`` ``from_pretrained`` load by repository name;
* transformers' layout (``config.json``, ``model.safetensors``, ``preprocessor_config.json``,
  ``generation_config.json`` and ``tokens.txt``, see :mod:`espnet2_speecht5.export.transformers_export`).

The card carries Hugging Face metadata (front matter), the task and the training data, the
results copied from RESULTS.md, how to use the model with either library, how to reproduce it,
and citations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from espnet2_speecht5.runtime.types import PathLike

TASK_INFO: Dict[str, Dict[str, str]] = {
    "asr": {
        "units": "Output",
        "pipeline_tag": "automatic-speech-recognition",
        "title": "speech recognition",
        "does": "It transcribes 16 kHz speech into text: raw waveform -> speech-encoder pre-net -> Transformer "
        "encoder -> text decoder, trained with joint CTC/attention losses.",
        "usage": """```python
import soundfile
from espnet2_speecht5.inference.speech2text import Speech2Text

speech2text = Speech2Text.from_pretrained("{model_ref}")
speech, rate = soundfile.read("speech.wav")  # 16 kHz mono
text, tokens, token_ids, hyp = speech2text(speech)[0]
print(text)
```

From the shell:

```bash
speecht5 transcribe --model {model_ref} speech.wav
```""",
    },
    "st": {
        "units": "Output",
        "pipeline_tag": "automatic-speech-recognition",
        "title": "speech translation",
        "does": "It translates 16 kHz speech into text of another language: raw waveform -> speech-encoder "
        "pre-net -> Transformer encoder -> text decoder over the target-language tokens, trained with label-smoothed "
        "cross-entropy (and, where the config says so, CTC on the source transcript).",
        "usage": """```python
import soundfile
from espnet2_speecht5.inference.speech2text import Speech2Text

speech2text = Speech2Text.from_pretrained("{model_ref}")
speech, rate = soundfile.read("speech.wav")  # 16 kHz mono
translation = speech2text.transcribe(speech)
print(translation)
```

From the shell:

```bash
speecht5 translate --model {model_ref} speech.wav
```""",
    },
    "tts": {
        "units": "Input",
        "citation": "espnet_tts",
        "pipeline_tag": "text-to-speech",
        "title": "text-to-speech",
        "does": "It turns text (and a speaker x-vector) into an 80-bin log-mel spectrogram: text pre-net -> "
        "Transformer encoder -> speech decoder with stop prediction -> post-net; a vocoder makes the waveform.",
        "usage": """```python
import soundfile
from espnet2_speecht5.inference.text2speech import Text2Speech

tts = Text2Speech.from_pretrained("{model_ref}")
result = tts(["the pen is red"], spembs=xvector[None])[0]  # xvector: (512,) numpy x-vector of a speaker
soundfile.write("out.wav", result.wav, tts.sample_rate)
```

From the shell:

```bash
speecht5 synthesize --model {model_ref} --text "the pen is red" --out x.wav
```""",
    },
    "vc": {
        "units": "Input",
        "pipeline_tag": "audio-to-audio",
        "title": "voice conversion",
        "does": "It says a source speaker's sentence in a target speaker's voice: raw waveform -> speech-encoder "
        "pre-net -> Transformer encoder -> speech decoder (with the target speaker's x-vector) and stop prediction "
        "-> post-net, an 80-bin log-mel spectrogram; a vocoder makes the waveform.",
        "usage": """```python
import soundfile
from espnet2_speecht5.inference.speech2speech import Speech2Speech

vc = Speech2Speech.from_pretrained("{model_ref}")
wav = vc("source.wav", speaker=xvector)  # xvector: (512,) x-vector of the target speaker, or a packed speaker's name
soundfile.write("converted.wav", wav, vc.sample_rate)
```

From the shell:

```bash
speecht5 convert --model {model_ref} --source source.wav --target-speaker target_xvector.npy --out converted.wav
```""",
    },
    "se": {
        "units": "Input",
        "pipeline_tag": "audio-to-audio",
        "title": "speech enhancement",
        "does": "It removes noise from speech: noisy raw waveform -> speech-encoder pre-net -> Transformer encoder "
        "-> speech decoder and stop prediction -> post-net, the 80-bin log-mel spectrogram of the clean speech; a "
        "vocoder makes the waveform. The output keeps the input's voice but is generated, so it is not "
        "sample-aligned with the input.",
        "usage": """```python
import soundfile
from espnet2_speecht5.inference.speech2speech import Speech2Speech

se = Speech2Speech.from_pretrained("{model_ref}")
wav = se("noisy.wav")
soundfile.write("enhanced.wav", wav, se.sample_rate)
```

From the shell:

```bash
speecht5 enhance --model {model_ref} --source noisy.wav --out enhanced.wav
```""",
    },
}

SPEECHT5_BIBTEX = """@inproceedings{ao2022speecht5,
  title     = {{SpeechT5}: Unified-Modal Encoder-Decoder Pre-Training for Spoken Language Processing},
  author    = {Ao, Junyi and Wang, Rui and Zhou, Long and Wang, Chengyi and Ren, Shuo and Wu, Yu and
               Liu, Shujie and Ko, Tom and Li, Qing and Zhang, Yu and Wei, Zhihua and Qian, Yao and
               Li, Jinyu and Wei, Furu},
  booktitle = {Proceedings of the 60th Annual Meeting of the Association for Computational Linguistics
               (Volume 1: Long Papers)},
  pages     = {5723--5738},
  year      = {2022},
  eprint    = {2110.07205},
  archivePrefix = {arXiv}
}"""

ESPNET_BIBTEX = """@inproceedings{watanabe2018espnet,
  title     = {{ESPnet}: End-to-End Speech Processing Toolkit},
  author    = {Watanabe, Shinji and Hori, Takaaki and Karita, Shigeki and Hayashi, Tomoki and
               Nishitoba, Jiro and Unno, Yuya and Enrique Yalta Soplin, Nelson and Heymann, Jahn and
               Wiesner, Matthew and Chen, Nanxin and Renduchintala, Adithya and Ochiai, Tsubasa},
  booktitle = {Proceedings of Interspeech},
  pages     = {2207--2211},
  year      = {2018},
  doi       = {10.21437/Interspeech.2018-1456}
}"""

ESPNET_TTS_BIBTEX = """@inproceedings{hayashi2020espnettts,
  title     = {{ESPnet-TTS}: Unified, Reproducible, and Integratable Open Source End-to-End
               Text-to-Speech Toolkit},
  author    = {Hayashi, Tomoki and Yamamoto, Ryuichi and Inoue, Katsuki and Yoshimura, Takenori and
               Watanabe, Shinji and Toda, Tomoki and Takeda, Kazuya and Zhang, Yu and Tan, Xu},
  booktitle = {Proceedings of ICASSP},
  pages     = {7654--7658},
  year      = {2020}
}"""

# how the tokens of each token type join back into text (for the transformers examples)
DETOKENISE = {
    "char": 'text = "".join(pieces).replace("<space>", " ")',
    "bpe": 'text = "".join(pieces).replace("\\u2581", " ").strip()',
    "word": 'text = " ".join(pieces)',
}


@dataclass
class CardDetails:
    """What the card says beyond the results; everything is optional.

    Attributes:
        data_sets: (role, data set name, utterances or None) per data set of the training run.
        token_type: ``char``, ``bpe``, ``word`` or ``phn`` (from the training config).
        vocab_size: the number of tokens V.
        commit: the git commit of espnet2-speecht5 the model was exported with.
        transformers: the folder also holds the transformers files.
        folder_ref: what transformers' ``from_pretrained`` receives (a Hub name or a folder).
        speaker_embedding: the TTS model conditions on an x-vector of this size (None: it does not).
        append_eos: the TTS model ends its input with ``<sos/eos>``.
        cleaner: the text cleaner of the training config.
        prenet_dropout: the TTS model keeps its speech-decoder pre-net dropout at inference.
    """

    data_sets: List[Tuple[str, str, Optional[int]]] = field(default_factory=list)
    token_type: Optional[str] = None
    vocab_size: Optional[int] = None
    commit: Optional[str] = None
    transformers: bool = False
    folder_ref: Optional[str] = None
    speaker_embedding: Optional[int] = None
    append_eos: bool = False
    cleaner: Optional[str] = None
    prenet_dropout: bool = True


def _count_lines(path: Path) -> Optional[int]:
    try:
        with path.open("rb") as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return None


def card_details(
    config: Dict[str, Any], base: PathLike = ".", commit: Optional[str] = None, transformers: bool = False,
    folder_ref: Optional[str] = None, speaker_default: bool = True,
) -> CardDetails:
    """Card details from a training config (a dict of ``config.yaml``).

    ``speaker_default`` is the model's ``use_speaker_embedding`` when the config does not set it.

    The data sets are the parent folders of the first training / validation data files; their
    utterances are counted when those files exist under ``base`` (the recipe folder).
    """
    sets: List[Tuple[str, str, Optional[int]]] = []
    for role, prefix in (("training", "train"), ("validation", "valid")):
        entries = config.get(f"{prefix}_data_path_and_name_and_type") or []
        if entries and isinstance(entries[0], (list, tuple)) and entries[0]:
            path = Path(str(entries[0][0]))
            full = path if path.is_absolute() else Path(base) / path
            sets.append((role, path.parent.name, _count_lines(full) if full.is_file() else None))
    model_conf = config.get("model_conf") or {}
    net_conf = config.get("net_conf") or {}
    speaker = None
    if model_conf.get("use_speaker_embedding", speaker_default):
        speaker = int(net_conf.get("speaker_embedding_dim", 512))
    token_list = config.get("token_list")
    return CardDetails(
        data_sets=sets,
        token_type=config.get("token_type"),
        vocab_size=len(token_list) if isinstance(token_list, list) else None,
        commit=commit if commit and commit != "unknown" else None,
        transformers=transformers,
        folder_ref=folder_ref,
        speaker_embedding=speaker,
        append_eos=bool(model_conf.get("append_eos", False)),
        cleaner=config.get("cleaner"),
        prenet_dropout=bool(model_conf.get("prenet_dropout_at_inference", True)),
    )


def results_body(results_md: str) -> str:
    """RESULTS.md without its generator comment and top heading, its other headings one level down."""
    lines = [line for line in results_md.splitlines() if not line.startswith("<!--")]
    text = "\n".join(lines).strip()
    text = re.sub(r"^# RESULTS\s*\n", "", text)
    text = re.sub(r"^(#{2,5}) ", lambda m: "#" + m.group(1) + " ", text, flags=re.MULTILINE)
    return text.strip() + "\n"


def _data_section(corpus: str, task: str, details: CardDetails) -> str:
    lines = [f"Corpus `{corpus}`, prepared by the recipe `egs2/{corpus}/{task}1` (its `local/data.sh`)."]
    if details.data_sets:
        lines += ["", "|data set|role|utterances|", "|---|---|---|"]
        for role, name, count in details.data_sets:
            lines.append(f"|`{name}`|{role}|{'-' if count is None else count}|")
    if details.token_type:
        size = f"{details.vocab_size} " if details.vocab_size else ""
        side = TASK_INFO.get(task, {}).get("units", "Model")
        where = "the training config" + (" and, in network id order, `tokens.txt`" if details.transformers else "")
        lines += ["", f"{side} units: {size}`{details.token_type}` tokens (listed in {where})."]
    return "\n".join(lines)


def _token_notes(details: CardDetails) -> str:
    last = f"{details.vocab_size - 1}" if details.vocab_size else "V - 1"
    return (
        "`tokens.txt` lists the tokens in the network's id order (line *i* is the token of id *i*). "
        f"It is ESPnet's token list with its first two entries swapped: id 0 is `<unk>`, id 1 (`<blank>`) is "
        f"padding, and id {last} (`<sos/eos>`) starts and ends every sequence. No `SpeechT5Tokenizer` is "
        "included: ESPnet's token ids are not the ids of a sentencepiece model, so turn text into ids (and "
        "ids into text) with `tokens.txt` as shown."
    )


def _is_local(ref: str) -> bool:
    """A local folder (written as an absolute path) rather than a Hub repository ``owner/name``."""
    return Path(ref).is_absolute()


def _hub_import(ref: str) -> str:
    return "" if _is_local(ref) else "from huggingface_hub import hf_hub_download\n"


def _tokens_path(ref: str) -> str:
    """Python source for the path of ``tokens.txt`` in a local folder or a Hub repository."""
    return repr(str(Path(ref) / "tokens.txt")) if _is_local(ref) else f'hf_hub_download("{ref}", "tokens.txt")'


def _transformers_asr(ref: str, details: CardDetails) -> str:
    join = DETOKENISE.get(details.token_type or "char", DETOKENISE["char"])
    return f"""```python
import soundfile
{_hub_import(ref)}from transformers import SpeechT5FeatureExtractor, SpeechT5ForSpeechToText

model = SpeechT5ForSpeechToText.from_pretrained("{ref}")
extractor = SpeechT5FeatureExtractor.from_pretrained("{ref}")  # the raw 16 kHz waveform, not normalised
tokens = open({_tokens_path(ref)}, encoding="utf-8").read().splitlines()

speech, rate = soundfile.read("speech.wav")  # 16 kHz mono
inputs = extractor(audio=speech, sampling_rate=16000, return_tensors="pt")
ids = model.generate(**inputs, max_length=200)[0].tolist()  # greedy, attention decoder only
pieces = [tokens[i] for i in ids if i not in (model.config.pad_token_id, model.config.eos_token_id)]
{join}
print(text)
```

This runs the attention decoder alone. The model was trained with a CTC head too, which has no
transformers counterpart and is not in `model.safetensors`; ESPnet's joint CTC/attention beam search
(above) uses it and usually gives lower error rates."""


def _transformers_st(ref: str, details: CardDetails) -> str:
    body = _transformers_asr(ref, details)
    body = body[: body.index("This runs the attention decoder alone.")]
    return body + ("This is greedy search; ESPnet's beam search (above) decodes the way the scores of RESULTS.md "
                   "were made. A CTC head over the source language, if the model was trained with one, served "
                   "training only and is not in `model.safetensors`.")


def _transformers_tts(ref: str, details: CardDetails) -> str:
    space = 'tokens.index("<space>") if ch == " " else ' if details.token_type == "char" else ""
    eos = " + [model.config.eos_token_id]" if details.append_eos else ""
    speaker = (f"speaker = torch.tensor(xvector).reshape(1, {details.speaker_embedding})  # the x-vector of a speaker"
               if details.speaker_embedding else "speaker = None  # this model uses no speaker embedding")
    text = f"""```python
import soundfile
import torch
{_hub_import(ref)}from transformers import SpeechT5ForTextToSpeech, SpeechT5HifiGan

model = SpeechT5ForTextToSpeech.from_pretrained("{ref}")
vocoder = SpeechT5HifiGan.from_pretrained("microsoft/speecht5_hifigan")  # same 80-bin log-mel features
tokens = open({_tokens_path(ref)}, encoding="utf-8").read().splitlines()
index = {{token: i for i, token in enumerate(tokens)}}

text = "the pen is red"
ids = [{space}index.get(ch, 0) for ch in text]{eos}  # 0 = <unk>
{speaker}
speech = model.generate_speech(torch.tensor([ids]), speaker, vocoder=vocoder)
soundfile.write("out.wav", speech.numpy(), 16000)
```"""
    if details.token_type != "char":
        text += (f"\n\nThe example splits the text into characters; this model reads `{details.token_type}` tokens, "
                 "so split the text the way the training config's tokenizer does before looking them up.")
    if details.cleaner:
        text += (f"\n\nThe training text was cleaned with ESPnet's `{details.cleaner}` cleaner; clean the input "
                 "text the same way.")
    text += ("\n\n`SpeechT5FeatureExtractor.from_pretrained(...)(audio_target=speech, sampling_rate=16000)` "
             "computes the log-mel targets the model was trained on.")
    if not details.prenet_dropout:
        text += ("\n\nThis model turns its speech-decoder pre-net dropout off at inference; transformers always "
                 "applies it, so its outputs vary from run to run and differ from ESPnet's.")
    return text


def _transformers_vc(ref: str, details: CardDetails) -> str:
    text = f"""```python
import soundfile
import torch
{_hub_import(ref)}from transformers import SpeechT5ForSpeechToSpeech, SpeechT5HifiGan

model = SpeechT5ForSpeechToSpeech.from_pretrained("{ref}")
vocoder = SpeechT5HifiGan.from_pretrained("microsoft/speecht5_hifigan")  # same 80-bin log-mel features
source, rate = soundfile.read("source.wav")  # 16 kHz mono, not normalised
speaker = torch.tensor(xvector).reshape(1, {details.speaker_embedding or 512})  # the target speaker's x-vector
speech = model.generate_speech(torch.tensor(source, dtype=torch.float32)[None], speaker, vocoder=vocoder)
soundfile.write("converted.wav", speech.numpy(), 16000)
```"""
    if not details.prenet_dropout:
        text += ("\n\nThis model turns its speech-decoder pre-net dropout off at inference; transformers always "
                 "applies it, so its outputs vary from run to run and differ from ESPnet's.")
    return text


def _transformers_se(ref: str, details: CardDetails) -> str:
    text = f"""```python
import soundfile
import torch
{_hub_import(ref)}from transformers import SpeechT5ForSpeechToSpeech, SpeechT5HifiGan

model = SpeechT5ForSpeechToSpeech.from_pretrained("{ref}")
vocoder = SpeechT5HifiGan.from_pretrained("microsoft/speecht5_hifigan")  # same 80-bin log-mel features
noisy, rate = soundfile.read("noisy.wav")  # 16 kHz mono, not normalised
speech = model.generate_speech(torch.tensor(noisy, dtype=torch.float32)[None], None, vocoder=vocoder)
soundfile.write("enhanced.wav", speech.numpy(), 16000)
```"""
    if details.speaker_embedding:
        text += ("\n\nThis model was trained with the x-vector of the noisy input: pass it as the second argument "
                 f"(shape (1, {details.speaker_embedding})) instead of None.")
    if not details.prenet_dropout:
        text += ("\n\nThis model turns its speech-decoder pre-net dropout off at inference; transformers always "
                 "applies it, so its outputs vary from run to run and differ from ESPnet's.")
    return text


def _pipeline_note(task: str, ref: str) -> str:
    """How transformers' pipelines run the folder, through its SpeechT5Tokenizer (character models)."""
    if task == "tts":
        return f"""The folder also holds a `SpeechT5Tokenizer` (`spm_char.model`, whose ids are the network's) and
the training speakers' x-vectors (`speaker_embeddings/<speaker>.npy`), so transformers' pipeline runs it:

```python
import numpy, torch
from transformers import pipeline

tts = pipeline("text-to-speech", model="{ref}")  # downloads microsoft/speecht5_hifigan (or pass vocoder=...)
speaker = torch.from_numpy(numpy.load("{ref}/speaker_embeddings/<speaker>.npy"))
out = tts("the pen is red", forward_params={{"speaker_embeddings": speaker}})  # out["audio"], out["sampling_rate"]
```

The tokenizer appends `</s>` to every text (transformers' rule); it reads lower-case characters as
the token list has them, without the normaliser of `Text2Speech`."""
    return f"""The folder also holds a `SpeechT5Tokenizer` (`spm_char.model`, whose ids are the network's), so
transformers' pipeline runs it (greedy, attention decoder only):

```python
from transformers import pipeline

asr = pipeline("automatic-speech-recognition", model="{ref}")
print(asr("speech.wav")["text"])
```"""


def _transformers_section(task: str, model_ref: str, details: CardDetails) -> str:
    ref = details.folder_ref or model_ref
    bodies = {"asr": _transformers_asr, "st": _transformers_st, "tts": _transformers_tts, "vc": _transformers_vc,
              "se": _transformers_se}
    body = bodies[task](ref, details)
    if task in ("asr", "st", "tts") and details.token_type == "char":
        body += "\n\n" + _pipeline_note(task, ref)
    if task in ("vc", "se"):  # the network reads no text: tokens.txt holds only the special tokens
        return f"### transformers\n\n{body}\n"
    return f"### transformers\n\n{body}\n\n{_token_notes(details)}\n"


def _reproduce_section(corpus: str, task: str, details: CardDetails) -> str:
    checkout = f"git checkout {details.commit.removesuffix('-dirty')}\n" if details.commit else ""
    note = ""
    if details.commit and details.commit.endswith("-dirty"):
        note = "\nThe model was exported from a working tree with uncommitted changes to that commit.\n"
    elif not details.commit:
        note = "\nThe git commit of the code was not recorded.\n"
    return f"""In a clone of espnet2-speecht5 with its environment installed:

```bash
{checkout}cd egs2/{corpus}/{task}1
./run.sh --stage 1 --stop_stage 13
```
{note}"""


def model_card(
    task: str,
    corpus: str,
    exp_name: str,
    results_md: str,
    model_ref: str,
    license_name: str = "apache-2.0",
    language: Optional[str] = None,
    details: Optional[CardDetails] = None,
) -> str:
    """The README.md text for an exported model.

    Args:
        task: the driver's task (``asr`` or ``tts``).
        corpus: the recipe's corpus, e.g. ``mini_speecht5``.
        exp_name: the experiment folder's name.
        results_md: the text of the experiment's RESULTS.md.
        model_ref: what our ``from_pretrained`` receives: a Hub name ``owner/name`` or a local zip path.
        license_name: the card's licence identifier.
        language: an ISO code for the front matter, when known.
        details: the training data, tokens, commit and transformers files (see :class:`CardDetails`).
    """
    details = details or CardDetails()
    info = TASK_INFO.get(task, {"pipeline_tag": task, "title": task, "does": "", "usage": ""})
    tags = ["espnet", "speecht5", "audio", info["pipeline_tag"]] + (["transformers"] if details.transformers else [])
    front = ["---", "library_name: espnet", "tags:"] + [f"- {tag}" for tag in tags]
    if language:
        front.append(f"language: {language}")
    front += [f"license: {license_name}", f"pipeline_tag: {info['pipeline_tag']}", "---"]
    usage = info["usage"].replace("{model_ref}", model_ref)
    layouts = "ESPnet's model-zoo layout (`meta.yaml` names the training config and the model file)"
    if details.transformers:
        layouts += (" and, beside it, transformers' (`config.json`, `model.safetensors`, "
                    "`preprocessor_config.json`, `generation_config.json`, `tokens.txt`)")
    transformers_part = _transformers_section(task, model_ref, details) if details.transformers else ""
    extra = [ESPNET_TTS_BIBTEX] if info.get("citation") == "espnet_tts" else []
    citation_text = "\n\n".join([SPEECHT5_BIBTEX, ESPNET_BIBTEX] + extra)
    body = f"""
# SpeechT5 {info['title']}: `{corpus}` / `{exp_name}`

A SpeechT5 model (Ao et al., ACL 2022, arXiv 2110.07205) fine-tuned for {info['title']} with the
espnet2-speecht5 recipe `egs2/{corpus}/{task}1`. The files follow {layouts}.

## Task

`{task}`: {info['title']}. {info['does']}

## Training data

{_data_section(corpus, task, details)}

## Results

{results_body(results_md)}
## How to use

### ESPnet (espnet2-speecht5)

{usage}

{transformers_part}
## How to reproduce

{_reproduce_section(corpus, task, details)}
## Citation

```bibtex
{citation_text}
```
"""
    return "\n".join(front) + "\n" + body
