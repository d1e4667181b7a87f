"""Table recovery that does not throw away stream events when a worker (re)joins the group.

faust-streaming 0.15.3 ends recovery (``Recovery.on_recovery_completed``) by resuming the stream
partitions, awaiting a seek to their committed offsets, and then calling
``app.flow_control.resume()``, which also *clears every stream queue*. The fetcher is already
running by then, so events it delivered during the seek are thrown away although their offsets
already count as read: the stream goes on after them. Traced here after a SIGKILL restart: a
worker queued offsets 8-10, its agent took 0-7 as a batch, the clear removed 8-10, and the next
batch began at 11 (faust-streaming issue #596 describes the same race).

The clear has nothing left to do at that point: when partitions are revoked faust already
stops the flow, pauses them and clears the queues, and the stream partitions stay paused until
this step. :class:`KeepQueuedRecovery` therefore clears once, before faust resumes the stream
partitions, and lets faust's own step run without clearing again. A newer rebalance starting
meanwhile (flow stopped, or a new generation) still gets its clears.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from faust.tables import TableManager
from faust.tables.recovery import Recovery


class KeepQueuedRecovery(Recovery):
    """faust's recovery, minus the queue clear that races with the resumed fetcher."""

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        flow_control = self.app.flow_control
        flow_control.clear()  # anything queued now predates the stream partitions' resume
        with _clears_only_on_rebalance(flow_control, self.app, generation_id):
            await super().on_recovery_completed(generation_id)


@contextlib.contextmanager
def _clears_only_on_rebalance(flow_control: Any, app: Any, generation_id: int) -> Iterator[None]:
    """Make ``flow_control.clear`` a no-op unless a new rebalance has begun.

    A revocation stops the consumer's flow before it clears; an assignment changes the
    generation. Either means the queued events may belong to partitions this worker lost.
    """
    clear = flow_control.clear

    def clear_if_rebalanced() -> None:
        if app.consumer_generation_id != generation_id or not app.consumer.flow_active:
            clear()

    flow_control.clear = clear_if_rebalanced
    try:
        yield
    finally:
        del flow_control.clear  # back to the class's method


class KeepQueuedTableManager(TableManager):
    """faust's table manager, recovering with :class:`KeepQueuedRecovery`.

    Named in the app's ``TableManager`` setting, faust's own hook for replacing it.
    """

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = KeepQueuedRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
