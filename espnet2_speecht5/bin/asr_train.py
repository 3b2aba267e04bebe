"""Train (or collect statistics for) SpeechT5 ASR with ESPnet's trainer.

Every option of ``espnet2.bin.asr_train`` that applies is accepted; ``--print_config`` shows
them all with their defaults. A configuration problem (unknown key or wrong value type in the
``--config`` file, in ``--net_conf`` or ``--model_conf``; a missing or malformed token list; an
``--init_param`` file that is unsafe or does not fit the network) stops with one ``ERROR:`` line
(see ``espnet2_speecht5/train/checks.py``).

Example (from a recipe folder)::

    python -m espnet2_speecht5.bin.asr_train --config conf/train.yaml \\
        --token_list data/token_list/char/tokens.txt --token_type char \\
        --train_data_path_and_name_and_type dump/raw/train/wav.scp,speech,sound \\
        --train_data_path_and_name_and_type dump/raw/train/text,text,text \\
        --valid_data_path_and_name_and_type dump/raw/dev/wav.scp,speech,sound \\
        --valid_data_path_and_name_and_type dump/raw/dev/text,text,text \\
        --train_shape_file exp/asr_stats/train/speech_shape \\
        --valid_shape_file exp/asr_stats/valid/speech_shape --output_dir exp/asr

Start from a converted checkpoint with ``--init_param model.pth::net``.
"""

from __future__ import annotations

import sys
from typing import List, Optional

from espnet2_speecht5.bin.train_main import run_checked_task


def main(cmd: Optional[List[str]] = None) -> None:
    """Run ``ASRTask.main``; configuration errors become one line on stderr and exit status 1."""
    run_checked_task("espnet2_speecht5.tasks.asr", "ASRTask", cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
