"""Train (or collect statistics for) SpeechT5 TTS with ESPnet's trainer.

Every option of ESPnet's trainer applies; ``--print_config`` shows them with their defaults.
A configuration problem (unknown key or wrong value type in the ``--config`` file, in
``--net_conf`` or ``--model_conf``; a missing or malformed token list; an ``--init_param`` file
that is unsafe or does not fit the network) stops with one ``ERROR:`` line (see
``espnet2_speecht5/train/checks.py``).

Example (from a recipe folder)::

    python -m espnet2_speecht5.bin.tts_train --config conf/train.yaml \\
        --token_list data/token_list/char/tokens.txt --token_type char \\
        --train_data_path_and_name_and_type dump/raw/train/text,text,text \\
        --train_data_path_and_name_and_type dump/raw/train/wav.scp,speech,sound \\
        --train_data_path_and_name_and_type dump/xvector/train/xvector.scp,spembs,kaldi_ark \\
        --valid_data_path_and_name_and_type ... (the same three for the validation set) \\
        --train_shape_file exp/tts_stats_char/train/text_shape.char \\
        --train_shape_file exp/tts_stats_char/train/speech_shape ... --output_dir exp/tts

Start from a converted checkpoint with ``--init_param model.pth::net``.
"""

from __future__ import annotations

import sys
from typing import List, Optional

from espnet2_speecht5.bin.train_main import run_checked_task


def main(cmd: Optional[List[str]] = None) -> None:
    """Run ``TTSTask.main``; configuration errors become one line on stderr and exit status 1."""
    run_checked_task("espnet2_speecht5.tasks.tts", "TTSTask", cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
