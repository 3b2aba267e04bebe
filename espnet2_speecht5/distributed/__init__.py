"""Data-parallel training launch: rank arithmetic, the per-node launcher, the multi-node Slurm job.

* :mod:`espnet2_speecht5.distributed.ranks`: who is rank what (pure functions, no torch).
* :mod:`espnet2_speecht5.distributed.launch`: starts one process per rank on a node and stops
  them all when one fails (``python -m espnet2_speecht5.bin.ddp_launch``).
* :mod:`espnet2_speecht5.distributed.slurm_job`: the sbatch script of a multi-node run and its
  dry run (``utils/slurm.py --nodes N``).
* :mod:`espnet2_speecht5.distributed.epoch_hooks`: what the training entry point adds to
  ESPnet's trainer in a distributed run (an epoch-start barrier, a fault-injection hook).
"""
