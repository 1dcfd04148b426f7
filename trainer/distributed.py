"""The processes of one training run (`accelerate launch`): this process's Accelerator, and the main process's
work (claims, database reads and writes, the dataset) handed to the others so every rank takes the same path.

With one process (plain `ftbot train`, `ftbot serve`) everything here is a no-op. With several, every
collective (a gradient all-reduce, a broadcast) waits for all ranks: a rank that raised where the others went on
would leave them waiting forever. So what only the main process does goes through on_main, which gives every
rank the main process's result, or raises its exception on every rank.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs, DistributedType, broadcast_object_list

from ftbot.llm import pick_device

T = TypeVar("T")


@cache
def accelerator_for(device_setting: str) -> Accelerator:
    """This process's Accelerator: gloo between CPU processes, NCCL between GPUs (one GPU per process).

    Models are placed by the recipe, not by accelerate: with one process `FTBOT_DEVICE=cuda:1` is honoured.
    DDP need not re-send the model's buffers (rotary frequencies, the same on every rank) before each forward.
    """
    return Accelerator(
        cpu=pick_device(device_setting).type == "cpu",
        device_placement=False,
        kwargs_handlers=[DistributedDataParallelKwargs(broadcast_buffers=False)],
    )


def training_device(accelerator: Accelerator, device_setting: str) -> torch.device:
    """One process: the configured device. Several: the one accelerate gave this process (its LOCAL_RANK GPU)."""
    return pick_device(device_setting) if accelerator.num_processes == 1 else accelerator.device


def is_sharded(accelerator: Accelerator) -> bool:
    """FSDP: every rank holds a shard of the weights, so weights are loaded in host memory and sharded onto the
    GPUs by accelerate, and the adapter is gathered from all ranks before it is saved."""
    return bool(accelerator.distributed_type == DistributedType.FSDP)


def on_main(accelerator: Accelerator, work: Callable[[], T]) -> T:
    """Run `work` on the main process only; every process returns its result, or raises its exception."""
    if accelerator.num_processes == 1:
        return work()
    shared: list[Any] = [None, None]  # [result, exception]
    if accelerator.is_main_process:
        try:
            shared = [work(), None]
        except BaseException as error:  # handed to every rank, then raised here too
            shared = [None, error if _picklable(error) else RuntimeError(f"{type(error).__name__}: {error}")]
            broadcast_object_list(shared)
            raise
    broadcast_object_list(shared)
    result, failure = shared
    if failure is not None:
        raise failure
    return result  # type: ignore[no-any-return]


def _picklable(error: BaseException) -> bool:
    try:
        pickle.dumps(error)
    except Exception:  # any failure: send a plain description instead
        return False
    return True
