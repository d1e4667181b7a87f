"""A trivial Faust app for the foundation test, run by ``faust -A tests.foundation.echo_app``.

Everything it needs comes from the environment the test sets, so the module is only imported by
that subprocess.
"""

import os

import faust

app = faust.App(
    os.environ["ECHO_APP_ID"],
    broker=f"kafka://{os.environ['ECHO_BOOTSTRAP']}",
    store="memory://",
    web_enabled=False,
    topic_partitions=1,
)
source = app.topic(os.environ["ECHO_IN"], value_serializer="raw")
sink = app.topic(os.environ["ECHO_OUT"], value_serializer="raw")


@app.agent(source)
async def shout(stream):  # type: ignore[no-untyped-def]
    """Upper-case every record and forward it."""
    async for value in stream:
        await sink.send(value=value.upper())
