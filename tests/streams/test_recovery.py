"""The end of table recovery keeps events the fetcher already queued (streams/recovery.py).

The end-to-end proof is the SIGKILL and scaling tests in test_pipeline_faults.py; these pin the
queue rule itself on mode's real flow-control classes, which faust uses for every stream queue.
"""

from __future__ import annotations

from types import SimpleNamespace

from mode.utils.queues import FlowControlEvent, FlowControlQueue

from streams.recovery import _clears_only_on_rebalance


def flow_with_queued_events() -> tuple[FlowControlEvent, FlowControlQueue[int]]:
    flow_control = FlowControlEvent(initially_suspended=False)
    queue: FlowControlQueue[int] = FlowControlQueue(flow_control=flow_control, clear_on_resume=True)
    for offset in (8, 9, 10):
        queue.put_nowait(offset)
    return flow_control, queue


def worker(generation: int, flowing: bool = True) -> SimpleNamespace:
    return SimpleNamespace(
        consumer_generation_id=generation, consumer=SimpleNamespace(flow_active=flowing)
    )


def test_resuming_flow_at_the_end_of_recovery_keeps_queued_events() -> None:
    flow_control, queue = flow_with_queued_events()
    with _clears_only_on_rebalance(flow_control, worker(3), generation_id=3):
        flow_control.resume()  # what faust's on_recovery_completed calls
    assert queue.qsize() == 3


def test_a_new_generation_still_clears_the_queues() -> None:
    flow_control, queue = flow_with_queued_events()
    app = worker(3)
    with _clears_only_on_rebalance(flow_control, app, generation_id=3):
        app.consumer_generation_id = 4
        flow_control.resume()
    assert queue.qsize() == 0


def test_a_revocation_in_progress_still_clears_the_queues() -> None:
    flow_control, queue = flow_with_queued_events()
    with _clears_only_on_rebalance(flow_control, worker(3, flowing=False), generation_id=3):
        flow_control.clear()  # what faust's on_partitions_revoked calls after stop_flow()
    assert queue.qsize() == 0


def test_clearing_behaves_as_before_once_recovery_has_ended() -> None:
    flow_control, queue = flow_with_queued_events()
    with _clears_only_on_rebalance(flow_control, worker(3), generation_id=3):
        pass
    flow_control.resume()
    assert queue.qsize() == 0
