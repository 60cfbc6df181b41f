"""The engine: the deterministic scheduler (:mod:`~highmem.sim.engine`), the strategies that pick
each step (:mod:`~highmem.sim.strategy`), the explorer (:mod:`~highmem.sim.explore`,
:mod:`~highmem.sim.parallel`), and the observers that judge a run (:mod:`~highmem.sim.checker`,
:mod:`~highmem.sim.trace`).

It knows nothing of files, terminals or reports, which sit on top (:mod:`highmem.report`,
:mod:`highmem.cli`).  Nothing is imported here, so that importing one engine module costs only
that module.
"""

__all__: list[str] = []
