"""Train SpeechT5 ST (or collect its statistics) with ESPnet's trainer: ``--help`` lists the options.

The translation is the ``text`` data name; ``src_text`` (the source transcript) is read when given,
for ``model_conf: {src_ctc_weight: ...}`` with ``--src_token_list``.  Configuration errors are one
``ERROR:`` line (``train/checks.py``).
"""

from __future__ import annotations

import sys
from typing import List, Optional

from espnet2_speecht5.bin.train_main import run_checked_task


def main(cmd: Optional[List[str]] = None) -> None:
    """Run ``STTask.main``; configuration errors become one line on stderr and exit status 1."""
    run_checked_task("espnet2_speecht5.tasks.st", "STTask", cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
