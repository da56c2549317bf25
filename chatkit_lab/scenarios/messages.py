"""``messages``: the message lifecycle every ChatKit UI runs (the kit's default diagnosis).

Mount (``threads.list``), the first message (``threads.create``), the thread load
(``threads.get_by_id``, ``items.list`` page by page), a second message
(``threads.add_user_message``) and a reload. It is judged by every layer's checks, the
stream-vs-reload diff included; it declares no checks of its own.
"""

from __future__ import annotations

from chatkit_lab.scenarios._base import Scenario, Session


async def play(session: Session) -> None:
    session.life = await session.runner.run(
        session.prompt("first"), session.prompt("second"), page_size=2
    )


SCENARIO = Scenario(
    name="messages",
    title="Send messages and reload",
    description="The client lists threads, sends a first message (a new thread), loads the "
    "thread, sends a second message and reloads it; each reload must show what was streamed.",
    requests=(
        "threads.list",
        "threads.create",
        "threads.get_by_id",
        "items.list",
        "threads.add_user_message",
    ),
    play=play,
    checks=__name__,
    prompts={"first": "Hello! What can you do?", "second": "Thanks. One more thing?"},
)
