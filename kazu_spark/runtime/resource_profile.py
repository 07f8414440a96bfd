"""Stage-level scheduling for NER: the NER stage asks for a share of a GPU per task, the rest of the job runs on CPU.

With ``ner.gpu_amount_per_task`` set (e.g. 0.25: four NER tasks share one GPU), :func:`ner_resource_profile`
builds a Spark ``ResourceProfile`` that ``tag_documents`` passes to ``mapInPandas(..., profile=...)``
(PySpark >= 4.0). Two forms, matching what Spark's cluster managers accept:

* task requests only (``executor_gpus=None``): a *TaskResourceProfile*. It runs on the existing executors,
  which must already own GPUs (``spark.executor.resource.gpu.amount`` + ``discoveryScript``); works on
  standalone, YARN and Kubernetes with dynamic allocation off. Only the NER tasks are limited to
  ``1 / gpu_amount_per_task`` per GPU; CPU stages keep one task per core.
* with executor requests (``executor_gpus=N``): Spark starts new GPU executors for the NER stage; this
  needs dynamic allocation (YARN, Kubernetes, or standalone with ``spark.dynamicAllocation.enabled``).

Local mode (``local[N]``) has no stage-level scheduling: leave ``gpu_amount_per_task`` unset there.
``conf/gpu/getGpusResources.sh`` is the discovery script; ``bench/README.md`` lists the cluster settings.

Example:
    >>> profile = ner_resource_profile(0.25, task_cpus=2)
    >>> {name: r.amount for name, r in profile.taskResources.items()}
    {'cpus': 2.0, 'gpu': 0.25}
    >>> profile.executorResources
    {}
    >>> task_device("auto", {"gpu": ["1"]}, cuda_available=True), task_device("auto", {}, cuda_available=False)
    ('cuda:1', 'cpu')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.resource import ResourceProfile

GPU = "gpu"


def ner_resource_profile(
    gpu_amount_per_task: float,
    *,
    task_cpus: int = 1,
    executor_gpus: int | None = None,
    discovery_script: str = "",
) -> ResourceProfile:
    """A ResourceProfile giving each NER task ``task_cpus`` cores and ``gpu_amount_per_task`` of a GPU.

    ``gpu_amount_per_task`` is a fraction in (0, 1] (several tasks share a GPU) or a whole number of GPUs.
    ``executor_gpus`` adds executor requests (GPUs per new executor, found by ``discovery_script``);
    None keeps the profile task-only, for executors that already have GPUs.

    Example:
        >>> ner_resource_profile(0.5, executor_gpus=1).executorResources["gpu"].amount
        1
        >>> ner_resource_profile(1.5)
        Traceback (most recent call last):
        ...
        ValueError: gpu_amount_per_task must be a fraction in (0, 1] or a whole number, got 1.5
    """
    # imported here: task_device, beside it, runs in tag_texts, where pyspark need not be installed
    from pyspark.resource import ExecutorResourceRequests, ResourceProfileBuilder, TaskResourceRequests

    if gpu_amount_per_task <= 0 or (gpu_amount_per_task > 1 and not float(gpu_amount_per_task).is_integer()):
        raise ValueError(
            f"gpu_amount_per_task must be a fraction in (0, 1] or a whole number, got {gpu_amount_per_task}"
        )
    builder = ResourceProfileBuilder().require(
        TaskResourceRequests().cpus(task_cpus).resource(GPU, float(gpu_amount_per_task))
    )
    if executor_gpus is not None:
        builder.require(ExecutorResourceRequests().resource(GPU, executor_gpus, discovery_script))
    return builder.build


def task_device(device: str, resources: Mapping[str, Sequence[str]], *, cuda_available: bool) -> str:
    """The torch device of a task: the GPU Spark assigned to it (``resources["gpu"]`` addresses) if any.

    ``device`` is the config's auto/cpu/cuda; auto means cuda when a GPU is visible. A task holding a
    "gpu" resource runs on ``cuda:<its first address>``, so tasks of one executor spread over its GPUs.

    Example:
        >>> task_device("cpu", {"gpu": ["0"]}, cuda_available=True), task_device("cuda", {}, cuda_available=True)
        ('cpu', 'cuda')
    """
    if device == "cpu" or (device == "auto" and not cuda_available):
        return "cpu"
    addresses = resources.get(GPU) or []
    return f"cuda:{addresses[0]}" if addresses else "cuda"
