"""Train SpeechT5 SE (or collect its statistics) with ESPnet's trainer: ``--help`` lists the options.

Stage 8 of ``speecht5.sh --task se`` runs it. Configuration errors are one ``ERROR:`` line
(``train/checks.py``).
"""

from __future__ import annotations

import sys
from typing import List, Optional

from espnet2_speecht5.bin.train_main import run_checked_task


def main(cmd: Optional[List[str]] = None) -> None:
    """Run ``SETask.main``; configuration errors become one line on stderr and exit status 1."""
    run_checked_task("espnet2_speecht5.tasks.se", "SETask", cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
