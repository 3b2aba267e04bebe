"""One exception type for bad input data, printed as a single line by entry points."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union


class DataError(Exception):
    """Bad input data: names the file, the line and the utterance where known.

    ``str(err)`` is the one line that command-line tools print (without a traceback).
    """

    def __init__(
        self,
        message: str,
        path: Optional[Union[str, Path]] = None,
        line: Optional[int] = None,
        utt: Optional[str] = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.utt = utt
        super().__init__(self.format())

    def format(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        who = f"utterance '{self.utt}': " if self.utt is not None else ""
        return f"{where}{who}{self.message}"
