"""``ProviderPicker``: choose a provider from the registry, see what each one needs.

Each option says whether the provider is configured (or which ``AI__*`` variables are
missing) and whether its server answers a short TCP probe. The probes run in a
background thread, so building the picker never blocks the kernel; the labels fill in
when they finish. Choosing an option builds the provider through the factory:
``picker.provider`` is then ready for the next cells, and ``picker.status`` says what
happened (errors as a message and a hint, never a traceback). Switching closes the
provider the picker built before (its HTTP client), so a session of switching leaks none.
"""

from __future__ import annotations

import asyncio
import html
import threading
from dataclasses import dataclass, field

import ipywidgets as w

from ..ai import AISettings, create_ai_provider, load_settings, missing_variables, provider_names
from ..ai.errors import ConfigurationError
from ..aio import aclose_quietly
from ._common import StaticView, error_html, explain


@dataclass
class ProviderOption:
    name: str
    missing: list[str] = field(default_factory=list)
    url: str | None = None
    reachable: bool | None = None  # None: in-process, or not probed yet
    probed: bool = False

    @property
    def configured(self) -> bool:
        return not self.missing

    @property
    def label(self) -> str:
        parts = ["configured ✓" if self.configured else f"missing {', '.join(self.missing)}"]
        if self.url is not None:
            if not self.probed:
                parts.append("probing…")
            else:
                parts.append("reachable ✓" if self.reachable else "not reachable ✗")
        return f"{self.name} — {' · '.join(parts)}"


@dataclass
class PickerStatus:
    selected: str | None = None
    state: str = "idle"  # idle | ready | error
    message: str = ""
    hint: str = ""

    def __str__(self) -> str:
        # What a student reads under print(picker.status): a sentence, not the dataclass's repr.
        mark = {"ready": "✓", "error": "✗"}.get(self.state, "…")
        line = f"{mark} {self.selected or '(no provider chosen)'}: {self.message or self.state}"
        return line + (f"\n  Hint: {self.hint}" if self.hint else "")


class ProviderPicker(StaticView):
    """A dropdown of every registered provider; ``.provider`` is the one chosen."""

    def __init__(self, settings: AISettings | None = None, *, probe: bool = True,
                 select: str | None = None):
        self.status = PickerStatus()
        self.provider = None
        self._built = None  # the provider this picker built: the only one it closes
        self._closing: set[asyncio.Task] = set()
        if settings is None:
            try:
                settings = load_settings()
            except ConfigurationError as error:
                settings = AISettings(provider="mock")
                self.status = PickerStatus(None, "error", *explain(error))
        self.settings = settings
        self.options: dict[str, ProviderOption] = {}
        self._updating = False
        self._probed = threading.Event()
        self.refresh_options()
        self.dropdown = w.Dropdown(options=self._choices(), description="Provider",
                                   layout=w.Layout(width="640px"), style={"description_width": "70px"})
        self.message = w.HTML()
        self.widget = w.VBox([self.dropdown, self.message])
        self.dropdown.observe(self._on_change, names="value")
        choice = select or settings.provider
        if self.status.state != "error" and choice in self.options:
            self.select(choice)
        if probe:
            threading.Thread(target=self._probe_all, name="picker-probe", daemon=True).start()
        else:
            self._probed.set()

    # -- options ----------------------------------------------------------------------------
    def refresh_options(self) -> None:
        """Re-read the registry (a provider registered since shows up) and the settings."""
        from ..ai.registry import provider_url

        fresh = {}
        for name in provider_names():
            old = self.options.get(name)
            fresh[name] = ProviderOption(name, missing_variables(self.settings, name),
                                         provider_url(self.settings, name),
                                         old.reachable if old else None, old.probed if old else False)
        self.options = fresh
        if hasattr(self, "dropdown"):
            self._relabel()

    def _choices(self) -> list[tuple[str, str]]:
        return [(option.label, name) for name, option in self.options.items()]

    def _relabel(self) -> None:
        self._updating = True
        try:
            value = self.dropdown.value
            self.dropdown.options = self._choices()
            self.dropdown.value = value if value in self.options else None
        finally:
            self._updating = False

    def _probe_all(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from ..probe import probe

        targets = [o for o in self.options.values() if o.url is not None]
        with ThreadPoolExecutor(max(1, len(targets))) as pool:
            results = list(pool.map(lambda o: probe(o.url), targets))
        for option, reachable in zip(targets, results):
            option.reachable, option.probed = reachable, True
        self._probed.set()
        try:
            self._relabel()
        except Exception:  # the widget may be gone (kernel shutting down)
            pass

    def wait_for_probes(self, timeout_s: float = 5.0) -> bool:
        """Block until the reachability probes finish (tests; a notebook need not wait)."""
        return self._probed.wait(timeout_s)

    # -- selection --------------------------------------------------------------------------
    def _on_change(self, change) -> None:
        if not self._updating and change["new"] is not None:
            self._build(change["new"])

    def select(self, name: str):
        """Choose ``name`` (as the dropdown would) and return the built provider or None."""
        if name not in self.options:
            self.refresh_options()
        if self.dropdown.value == name:
            self._build(name)
        else:
            self.dropdown.value = name  # triggers _build through the observer
        return self.provider

    def _build(self, name: str) -> None:
        previous, self._built, self.provider = self._built, None, None
        self._release(previous)
        try:
            self.provider = self._built = create_ai_provider(self.settings.with_(provider=name))
        except Exception as error:  # shown as message + hint
            message, hint = explain(error)
            self.status = PickerStatus(name, "error", message, hint)
            self.message.value = error_html(message, hint)
            self._record_view()
            return
        self.status = PickerStatus(name, "ready", f"built the {describe(self.provider)}")
        self.message.value = (f"<span style='color:#1a7f37'>✓ {html.escape(self.status.message)}"
                              "</span> — <code>picker.provider</code> holds it.")
        self._record_view()

    def _release(self, provider) -> None:
        """Close a provider this picker built and no longer offers.

        Only ``self._built`` comes here: a provider someone assigned to ``picker.provider``
        themselves is theirs to close. Inside a running loop (a notebook's kernel) the close
        is scheduled on it, so the kernel is not blocked; with none running (a script),
        it is closed at once on a short-lived loop of its own.
        """
        if provider is None or not callable(getattr(provider, "aclose", None)):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = asyncio.new_event_loop()  # not asyncio.run: it would unset the thread's loop
            try:
                loop.run_until_complete(aclose_quietly(provider))
            finally:
                loop.close()
            return
        task = loop.create_task(aclose_quietly(provider))
        self._closing.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(self._closing.discard)


def describe(provider) -> str:
    """One line a student reads: the provider's name, its model and where its requests go --
    "bedrock provider, model 'amazon.nova-micro-v1:0', at http://127.0.0.1:39559" -- for a
    built-in or a student's class alike; never a repr. A URL is shown without credentials."""
    from ..ai.registry import provider_url
    from ..ai.settings import display_url

    name = getattr(provider, "name", None)
    model = getattr(provider, "model", None)
    settings = getattr(provider, "settings", None)
    url = provider_url(settings, name) if settings is not None and name else None
    where = (f", at {display_url(url)}" if url else
             ", in this kernel" if name in ("local", "mock") else "")
    label = f"{name} provider" if name else type(provider).__name__
    if name and type(provider).__module__.split(".")[0] != "workbook":
        label += f" ({type(provider).__name__})"   # a class of your own: say which
    return label + (f", model {model!r}" if model else "") + where