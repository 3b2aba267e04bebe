"""Train SpeechT5 joint pre-training (or collect statistics) with ESPnet's trainer: ``--help`` lists the options.

Stage 8 of ``speecht5.sh --task pretrain`` runs it, with the text corpus options
(``--train_text_data_path_and_name_and_type`` and its shape file) beside the speech data. Statistics
are collected for one corpus at a time. Configuration errors, and cluster labels that do not fit
their audio, are one ``ERROR:`` line.
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
