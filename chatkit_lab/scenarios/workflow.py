"""``workflow``: a reply that shows its work as a workflow of tasks.

A ChatKit server shows progress as a ``workflow`` item whose tasks arrive as
``workflow.task.added`` and change with ``workflow.task.updated`` (the SDK's
``AgentContext.start_workflow`` / ``add_workflow_task`` / ``update_workflow_task`` /
``end_workflow``), finished by ``thread.item.done`` with every task. The ordering layer checks
the updates against the tasks they name; the reload must keep the workflow with all its tasks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chatkit_lab.checks import Evidence, Found, Skip, check
from chatkit_lab.scenarios._base import (
    Fault,
    Reply,
    Scenario,
    ScenarioContext,
    Session,
    finished,
    reload_thread,
    require_items,
)


def _tasks(item: dict[str, Any]) -> list[Any]:
    workflow = item.get("workflow")
    tasks = workflow.get("tasks") if isinstance(workflow, dict) else None
    return tasks if isinstance(tasks, list) else []


def tasks_added(events: list[Any]) -> dict[str, int]:
    """How many ``workflow.task.added`` updates a stream sent, per workflow item id."""
    added: dict[str, int] = {}
    for event in events:
        payload = event.payload
        if not isinstance(payload, dict) or payload.get("type") != "thread.item.updated":
            continue
        update = payload.get("update")
        if isinstance(update, dict) and update.get("type") == "workflow.task.added":
            item_id = str(payload.get("item_id"))
            added[item_id] = added.get(item_id, 0) + 1
    return added


def task_updates(events: list[Any]) -> int:
    """How many ``workflow.task.*`` updates a stream carried."""
    count = 0
    for event in events:
        payload = event.payload
        update = payload.get("update") if isinstance(payload, dict) else None
        kind = update.get("type") if isinstance(update, dict) else None
        count += isinstance(kind, str) and kind.startswith("workflow.task.")
    return count


async def play(session: Session) -> None:
    create = await session.create_thread(session.prompt("ask"))
    thread_id = session.require_thread(create)
    flows = finished(create, "workflow")
    started = finished(create, "workflow", ("thread.item.added",))
    if not flows and started:
        # the kit found a workflow it never finished: graded by the ordering layer's
        # ordering.unfinished_item on this stream, never a skip
        session.facts["unfinished"] = [str(i.get("id")) for i in started]
        session.life.notes.append(
            "the reply started a workflow and never finished it (no thread.item.done for it)"
        )
        return
    require_items(session, create, flows, "finished workflow", "shows no workflows")
    session.facts.update(
        workflows=flows,
        updates=task_updates(create.seen_by_chatkit.events),
        added=tasks_added(create.seen_by_chatkit.events),
        stream_capture=create.capture.name,
    )
    await reload_thread(session, thread_id, "reload")


def off_by_one_task_index(payload: dict[str, Any]) -> dict[str, Any]:
    """``faulty:workflow``: ``workflow.task.updated`` names the task one past the right one.

    The bug: the backend numbers the workflow's steps as it shows them to the user (step 1,
    step 2, ...) and sends that number as ``task_index``, which counts from 0. What the user
    sees: an update lands on the task after the one it is for, or, when that task is the newest
    (a step finishing before the next starts, as here), past the end of the list, so the step
    never shows as done while the workflow runs. The finished workflow item, sent whole at the
    end, is right, and so is the reload: only the live progress is wrong.
    """
    update = payload.get("update")
    if (
        payload.get("type") == "thread.item.updated"
        and isinstance(update, dict)
        and update.get("type") == "workflow.task.updated"
        and isinstance(update.get("task_index"), int)
    ):
        return {**payload, "update": {**update, "task_index": update["task_index"] + 1}}
    return payload


SCENARIO = Scenario(
    name="workflow",
    title="Show a workflow of tasks",
    description="The reply shows a workflow whose tasks are added and updated while it "
    "streams (workflow.task.added / .updated, checked against the tasks they name) and the "
    "reload keeps the workflow with every task.",
    requests=("threads.create", "threads.get_by_id", "items.list"),
    play=play,
    checks=__name__,
    prompts={"ask": "Plan a trip to Paris step by step."},
    replies={
        "ask": Reply(
            "workflow",
            "Your trip to Paris is planned, step by step: dates, hotel and days.",
            tool="plan_trip",
            arguments={"city": "Paris"},
        )
    },
    faulty=Fault(
        "the reference backend sending workflow.task.updated with task_index counted from 1: "
        "the last update points past the workflow's tasks",
        events=off_by_one_task_index,
    ),
)


@check(
    code="persistence.workflow_tasks_lost",
    layer="persistence",
    severity="error",
    description="The reload shows a finished workflow with every task it streamed.",
    expectation="Each workflow item finished in the stream is on the reload with as many tasks.",
    fix="Save the workflow item that thread.item.done carries, tasks included (ChatKitServer "
    "does; a Store that serialises only some item fields loses them).",
)
def tasks_lost(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    flows = ctx.facts.get("workflows")
    reload = ctx.facts.get("reload")
    if not isinstance(flows, list) or not isinstance(reload, list):
        yield Skip("no workflow was streamed")
        return
    by_id = {str(i.get("id")): i for i in reload}
    for flow in flows:
        twin = by_id.get(str(flow.get("id")))
        if twin is None:
            continue  # the stream-vs-reload diff names a missing item
        streamed, kept = len(_tasks(flow)), len(_tasks(twin))
        if kept < streamed:
            yield Found(
                f"workflow {flow.get('id')!r} streamed {streamed} task(s); the reload shows {kept}",
                Evidence(
                    capture=ctx.facts.get("reload_capture"), detail={"item_id": flow.get("id")}
                ),
            )


@check(
    code="rendering.workflow_tasks_dropped",
    layer="rendering",
    severity="error",
    description="A finished workflow keeps the tasks it streamed.",
    expectation="The workflow item of thread.item.done holds at least as many tasks as the "
    "stream added with workflow.task.added (the client replaces the item with the done one).",
    fix="Finish the workflow with every task it showed: build the done item from the workflow "
    "you streamed (AgentContext.end_workflow does), not from a fresh Workflow.",
)
def tasks_dropped(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    flows = ctx.facts.get("workflows")
    added = ctx.facts.get("added")
    if not isinstance(flows, list) or not isinstance(added, dict):
        yield Skip("no workflow was streamed")
        return
    for flow in flows:
        streamed = added.get(str(flow.get("id")), 0)
        kept = len(_tasks(flow))
        if kept < streamed:
            yield Found(
                f"workflow {flow.get('id')!r} added {streamed} task(s) while streaming and "
                f"finished with {kept}: the tasks the user watched disappear when it finishes",
                Evidence(
                    capture=ctx.facts.get("stream_capture"), detail={"item_id": flow.get("id")}
                ),
            )
