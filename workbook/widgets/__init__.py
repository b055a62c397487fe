"""Notebook widgets: thin ipywidgets views over plain state objects.

* ``ProviderPicker`` -- choose a provider; see what is configured, missing, reachable.
* ``ChatPanel`` -- stream one reply, with time to first token, latency and tokens.
* ``Race`` -- one prompt to several providers side by side, streaming concurrently.
* ``describe`` -- one readable line for a provider: its name, model and URL.
* ``progress_lines`` -- a ``progress=`` callback that keeps a cell's output short.
* ``static_bundle`` -- any ipywidget's output plus a static view for a page without a kernel.

Nothing here blocks the kernel: network work runs as asyncio tasks on its loop, probes
in a background thread. Tests drive the state objects (``picker.status``,
``panel.state``, ``race.state``) without a browser.
"""

from ._common import progress_lines, static_bundle
from .chat import ChatPanel, ChatState
from .picker import PickerStatus, ProviderOption, ProviderPicker, describe
from .race import Race, RaceColumn, RaceState

__all__ = ["ProviderPicker", "PickerStatus", "ProviderOption", "ChatPanel", "ChatState",
           "Race", "RaceState", "RaceColumn", "static_bundle", "describe", "progress_lines"]
