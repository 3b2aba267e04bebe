"""Stage 13: the README.md model card of an exported model folder.

The exported folder has the layout of ESPnet's model repositories on the Hugging Face Hub:
the model-zoo zip's contents (``meta.yaml`` at the top, the config and model under their
``exp/...`` paths), so that ``espnet_model_zoo`` can load it by repository name, plus this card.
The card carries Hugging Face metadata (front matter), what the model does, the results
copied from RESULTS.md, and how to load it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Optional, Union

PathLike = Union[str, Path]

TASK_INFO: Dict[str, Dict[str, str]] = {
    "asr": {
        "pipeline_tag": "automatic-speech-recognition",
        "title": "speech recognition",
        "usage": """```python
import soundfile
from espnet2_speecht5.inference.speech2text import Speech2Text

speech2text = Speech2Text.from_pretrained("{model_ref}")
speech, rate = soundfile.read("speech.wav")  # 16 kHz mono
text, tokens, token_ids, hyp = speech2text(speech)[0]
print(text)
```""",
    },
}


def results_body(results_md: str) -> str:
    """RESULTS.md without its generator comment and top heading, its other headings one level down."""
    lines = [line for line in results_md.splitlines() if not line.startswith("<!--")]
    text = "\n".join(lines).strip()
    text = re.sub(r"^# RESULTS\s*\n", "", text)
    text = re.sub(r"^(#{2,5}) ", lambda m: "#" + m.group(1) + " ", text, flags=re.MULTILINE)
    return text.strip() + "\n"


def model_card(
    task: str,
    corpus: str,
    exp_name: str,
    results_md: str,
    model_ref: str,
    license_name: str = "apache-2.0",
    language: Optional[str] = None,
) -> str:
    """The README.md text for an exported model.

    Args:
        task: the driver's task (``asr``).
        corpus: the recipe's corpus, e.g. ``mini_speecht5``.
        exp_name: the experiment folder's name.
        results_md: the text of the experiment's RESULTS.md.
        model_ref: what ``from_pretrained`` receives: a Hub name ``owner/name`` or a local zip path.
        license_name: the card's licence identifier.
        language: an ISO code for the front matter, when known.
    """
    info = TASK_INFO.get(task, {"pipeline_tag": task, "title": task, "usage": ""})
    front = ["---", "library_name: espnet", "tags:", "- espnet", "- speecht5", "- audio", f"- {info['pipeline_tag']}"]
    if language:
        front.append(f"language: {language}")
    front += [f"license: {license_name}", f"pipeline_tag: {info['pipeline_tag']}", "---"]
    usage = info["usage"].replace("{model_ref}", model_ref)
    body = f"""
# SpeechT5 {info['title']}: `{corpus}` / `{exp_name}`

A SpeechT5 model (Ao et al., 2021, arXiv 2110.07205) fine-tuned for {info['title']} with the
espnet2-speecht5 recipe `egs2/{corpus}/{task}1`.  The files follow ESPnet's model-zoo layout:
`meta.yaml` names the training config and the model file.

## Results

{results_body(results_md)}
## How to use

{usage}
"""
    return "\n".join(front) + "\n" + body
