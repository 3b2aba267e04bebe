"""Train (or collect statistics for) SpeechT5 joint pre-training with ESPnet's trainer.

Every option of ESPnet's training entry points that applies is accepted, plus the text corpus
options of :class:`~espnet2_speecht5.tasks.pretrain.PretrainTask` (``--print_config`` lists them).
A configuration problem stops with one ``ERROR:`` line, as for ``asr_train``; so does a cluster
label file that does not fit its audio (the line names the utterance).

Example (from a recipe folder; stage 8 of ``speecht5.sh --task pretrain`` runs this)::

    python -m espnet2_speecht5.bin.pretrain_train --config conf/train.yaml \\
        --token_list data/token_list/char/tokens.txt --token_type char \\
        --train_data_path_and_name_and_type dump/raw/train/wav.scp,speech,sound \\
        --train_data_path_and_name_and_type dump/raw/train/label,label,text_int \\
        --valid_data_path_and_name_and_type dump/raw/dev/wav.scp,speech,sound \\
        --valid_data_path_and_name_and_type dump/raw/dev/label,label,text_int \\
        --train_shape_file exp/pretrain_stats_char/train/speech_shape \\
        --valid_shape_file exp/pretrain_stats_char/valid/speech_shape \\
        --train_text_data_path_and_name_and_type dump/raw/train_text/text,text,text \\
        --valid_text_data_path_and_name_and_type dump/raw/dev_text/text,text,text \\
        --train_text_shape_file exp/pretrain_stats_char/text/train/text_shape \\
        --valid_text_shape_file exp/pretrain_stats_char/text/valid/text_shape \\
        --text_batch_ratio 1.0 --output_dir exp/pretrain

Statistics (``--collect_stats true``) are collected for one corpus at a time: pass the speech
files, or the text file, as the ``--{train,valid}_data_path_and_name_and_type`` of the run.
"""

from __future__ import annotations

import sys
from typing import List, Optional

from espnet2_speecht5.bin.train_main import run_checked_task


def main(cmd: Optional[List[str]] = None) -> None:
    """Run ``PretrainTask.main``; configuration and data errors become one line on stderr and exit status 1."""
    run_checked_task("espnet2_speecht5.tasks.pretrain", "PretrainTask", cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
