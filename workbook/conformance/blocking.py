"""``iterate_in_thread``: a blocking iterator (boto3's event stream) consumed with ``async for``.

Exercise 10's Bedrock provider reads ConverseStream, whose events arrive from a blocking
iterator. Reading it on the event loop would stop every other call, so a worker thread
reads it and hands each item to the loop. This plumbing is not what the exercise teaches,
so the package provides it: the student writes ``async for event in iterate_in_thread(...)``.

An exception raised while reading reaches the consumer as it was raised. A consumer that
stops early (``break``, an error, a cancelled task) tells the thread to stop after the item
it is reading, and the iterator is closed if it can be. The bridge itself is
``workbook.aio.ThreadRelay``, the one the built-in Bedrock and local providers use too.
"""

from __future__ import annotations

from ..aio import iterate_in_thread

__all__ = ["iterate_in_thread"]
