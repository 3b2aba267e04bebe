"""Process and runtime helpers shared by every layer and entry point; imports nothing else of the package.

* :mod:`~espnet2_speecht5.runtime.types`: ``PathLike``;
* :mod:`~espnet2_speecht5.runtime.errors`: :class:`DataError`, bad input printed as one line;
* :mod:`~espnet2_speecht5.runtime.cli`: the entry-point wrapper that prints it (``utils/``, ``bin/``);
* :mod:`~espnet2_speecht5.runtime.quiet_imports`: importing ESPnet without its start-up noise;
* :mod:`~espnet2_speecht5.runtime.jobs`: the parallel job runners behind ``utils/run.py`` and ``utils/slurm.py``;
* :mod:`~espnet2_speecht5.runtime.lazy_typecheck`: typeguard's ``@typechecked`` instrumented on first call.
"""
