"""Rank arithmetic of data-parallel training: which process is which rank, and what it is told.

Layout: ``num_nodes`` nodes, each running ``procs_per_node`` processes (one per GPU, or CPU
processes over gloo). Process ``local_rank`` on node ``node_rank`` is global rank
``node_rank * procs_per_node + local_rank`` of ``world_size = num_nodes * procs_per_node``.

Every rank is an ordinary ESPnet training process in ESPnet's "external launcher" mode
(``--multiprocessing_distributed false``): it reads ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``
from its environment, and meets the others through ``--dist_init_method``: a file on one node,
``env://`` (``MASTER_ADDR``/``MASTER_PORT``) across nodes. A GPU rank sees exactly one device
(``CUDA_VISIBLE_DEVICES``), which it addresses as device 0 (``--local_rank 0``).

Under Slurm (one task per node), :func:`slurm_node` derives the node's place from the
variables srun sets; the dry run of ``utils/slurm.py --nodes`` feeds it the same variables.
This module imports neither torch nor ESPnet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence

from espnet2_speecht5.runtime.errors import DataError

DEVICES = ("cpu", "gpu")
FIRST_PORT = 10000  # master ports come from [FIRST_PORT, FIRST_PORT + PORT_SPAN): below Linux's ephemeral range
PORT_SPAN = 20000


@dataclass(frozen=True)
class NodePlan:
    """One node's share of a distributed run."""

    num_nodes: int
    node_rank: int
    procs_per_node: int
    device: str  # "cpu" (gloo) or "gpu" (nccl)
    init_method: str  # "env://" (then master_addr/master_port are set) or "file://<path>"
    master_addr: Optional[str] = None
    master_port: Optional[int] = None
    visible_devices: Optional[Sequence[str]] = None  # gpu: the node's devices; None: 0 .. procs_per_node-1


@dataclass(frozen=True)
class RankEnv:
    """What one rank is told: its numbers and how to reach the others."""

    rank: int
    local_rank: int
    node_rank: int
    world_size: int
    local_world_size: int
    init_method: str
    master_addr: Optional[str] = None
    master_port: Optional[int] = None
    cuda_visible_devices: Optional[str] = None  # gpu ranks only

    def environ(self) -> Dict[str, str]:
        """The environment variables of this rank (added to the launcher's own)."""
        env = {
            "NODE_RANK": str(self.node_rank),
            "LOCAL_RANK": str(self.local_rank),
            "RANK": str(self.rank),
            "WORLD_SIZE": str(self.world_size),
            "LOCAL_WORLD_SIZE": str(self.local_world_size),
        }
        if self.master_addr is not None:
            env["MASTER_ADDR"] = self.master_addr
        if self.master_port is not None:
            env["MASTER_PORT"] = str(self.master_port)
        if self.cuda_visible_devices is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.cuda_visible_devices
        return env

    def describe(self) -> str:
        """``rank 3 (node 0, local rank 3)``: how messages name this rank."""
        return f"rank {self.rank} (node {self.node_rank}, local rank {self.local_rank})"


def check_node(plan: NodePlan) -> None:
    """Raise :class:`DataError` (one line) when ``plan`` cannot work."""
    if plan.device not in DEVICES:
        raise DataError(f"ddp: device must be cpu or gpu, not '{plan.device}'")
    if plan.num_nodes < 1 or plan.procs_per_node < 1:
        raise DataError(
            f"ddp: need at least 1 node and 1 process per node, got {plan.num_nodes} x {plan.procs_per_node}"
        )
    if not 0 <= plan.node_rank < plan.num_nodes:
        raise DataError(f"ddp: node rank {plan.node_rank} is outside 0..{plan.num_nodes - 1}")
    if plan.init_method == "env://" and (not plan.master_addr or plan.master_port is None):
        raise DataError("ddp: env:// needs a master address and port")
    if plan.device == "gpu" and plan.visible_devices is not None and len(plan.visible_devices) < plan.procs_per_node:
        raise DataError(
            f"ddp: {plan.procs_per_node} GPU processes per node, but CUDA_VISIBLE_DEVICES lists only "
            f"{len(plan.visible_devices)} device(s): {','.join(plan.visible_devices)}"
        )


def rank_envs(plan: NodePlan) -> List[RankEnv]:
    """The environments of the ``plan.procs_per_node`` ranks of this node, by local rank."""
    check_node(plan)
    world = plan.num_nodes * plan.procs_per_node
    devices = list(plan.visible_devices) if plan.visible_devices is not None else None
    envs = []
    for local in range(plan.procs_per_node):
        device = None
        if plan.device == "gpu":
            device = devices[local] if devices is not None else str(local)
        envs.append(
            RankEnv(
                rank=plan.node_rank * plan.procs_per_node + local,
                local_rank=local,
                node_rank=plan.node_rank,
                world_size=world,
                local_world_size=plan.procs_per_node,
                init_method=plan.init_method,
                master_addr=plan.master_addr,
                master_port=plan.master_port,
                cuda_visible_devices=device,
            )
        )
    return envs


def espnet_rank_args(device: str, init_method: str) -> List[str]:
    """Options appended to each rank's ESPnet training command (later options win in argparse).

    The same for every rank: the rank's numbers travel in its environment.
    """
    if device == "gpu":  # one visible device per rank: it is device 0 there
        device_args = ["--ngpu", "1", "--local_rank", "0", "--dist_backend", "nccl"]
    else:
        device_args = ["--ngpu", "0", "--dist_backend", "gloo"]
    return device_args + [
        "--multiprocessing_distributed", "false", "--dist_launcher", "none", "--dist_init_method", init_method,
    ]  # fmt: skip


def first_host(nodelist: str) -> str:
    """The first host of a Slurm node list: ``gpu[03-04,07],cpu1`` -> ``gpu03``, ``a[1-2]-b[5-6]`` -> ``a1-b5``."""
    depth, first = 0, []
    for char in nodelist.strip():
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            break
        first.append(char)
    host = re.sub(r"\[([^\]]*)\]", lambda m: m.group(1).split(",")[0].split("-")[0], "".join(first))
    if not host or "[" in host or "]" in host:
        raise DataError(f"ddp: cannot read the first host of the Slurm node list '{nodelist}'")
    return host


def master_port_for_job(job_id: str) -> int:
    """A port every node of Slurm job ``job_id`` agrees on without talking: from the job id."""
    digits = re.sub(r"\D", "", job_id)
    if not digits:
        raise DataError(f"ddp: the Slurm job id '{job_id}' has no digits to derive a master port from")
    return FIRST_PORT + int(digits) % PORT_SPAN


def _slurm_int(environ: Mapping[str, str], *names: str) -> int:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            try:
                return int(value)
            except ValueError:
                raise DataError(f"ddp: {name}='{value}' is not an integer") from None
    raise DataError(f"ddp: {' or '.join(names)} is not set: run this under srun (one task per node)")


def slurm_node(environ: Mapping[str, str], procs_per_node: int, device: str) -> NodePlan:
    """This node's plan, from the variables srun sets for a step with one task per node.

    Read: ``SLURM_STEP_NUM_NODES`` (or ``SLURM_NNODES``), ``SLURM_NODEID``, ``SLURM_STEP_NUM_TASKS``
    (or ``SLURM_NTASKS``), ``SLURM_STEP_NODELIST`` (or ``SLURM_JOB_NODELIST``), ``SLURM_JOB_ID`` and,
    for GPUs, ``CUDA_VISIBLE_DEVICES`` (the node's devices, which Slurm sets for ``--gres=gpu:N``).
    ``MASTER_ADDR`` and ``MASTER_PORT``, when set, replace the first host and the port from the job id.
    """
    nodes = _slurm_int(environ, "SLURM_STEP_NUM_NODES", "SLURM_NNODES")
    node_rank = _slurm_int(environ, "SLURM_NODEID")
    tasks = _slurm_int(environ, "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS")
    if tasks != nodes:
        raise DataError(f"ddp: {tasks} Slurm tasks on {nodes} nodes: run one task per node (srun --ntasks-per-node=1)")
    nodelist = environ.get("SLURM_STEP_NODELIST") or environ.get("SLURM_JOB_NODELIST") or ""
    addr = environ.get("MASTER_ADDR") or first_host(nodelist)
    port_text = environ.get("MASTER_PORT") or ""
    port = int(port_text) if port_text.isdigit() else master_port_for_job(environ.get("SLURM_JOB_ID", ""))
    visible = None
    if device == "gpu" and environ.get("CUDA_VISIBLE_DEVICES"):
        visible = [d.strip() for d in environ["CUDA_VISIBLE_DEVICES"].split(",") if d.strip()]
    plan = NodePlan(nodes, node_rank, procs_per_node, device, "env://", addr, port, visible)
    check_node(plan)
    return plan


def local_node(procs_per_node: int, device: str, init_file: str, environ: Mapping[str, str]) -> NodePlan:
    """The plan of a run on this machine only: the ranks meet through ``init_file`` (a FileStore)."""
    visible = None
    if device == "gpu" and environ.get("CUDA_VISIBLE_DEVICES"):
        visible = [d.strip() for d in environ["CUDA_VISIBLE_DEVICES"].split(",") if d.strip()]
    plan = NodePlan(1, 0, procs_per_node, device, f"file://{init_file}", visible_devices=visible)
    check_node(plan)
    return plan
