"""What ``qwen-ci ask`` shows on a terminal while a call runs, and how it prints the result.

One piece of logic decides *what* to show (:class:`LiveView`: the stage, each code run once it is
whole, the reasoning with ``--show-reasoning``); two renderers decide *how*:

- :class:`RichLive` - with the ``[cli]`` extra (``rich``) on a terminal: a spinner with the stage
  and the elapsed time, code runs syntax-highlighted above it;
- :class:`PlainLive` - without ``rich``: a one-line status on a terminal, plain ``[stage]`` lines
  when the output is piped.

:func:`print_markdown` renders the result (Markdown) with ``rich`` on a terminal and writes it
verbatim otherwise. ``rich`` is never required: without it everything is plain text.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from types import ModuleType
from typing import IO, TYPE_CHECKING

from .._accumulator import Accumulator, Closed
from .._result import Completed, StreamEvent
from .._stages import StageTracker, is_work_stage
from .._types import CodeRun, CodeRunUpdated, ReasoningDelta

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = ["LiveView", "PlainLive", "RichLive", "live_view", "print_markdown", "rich_for"]


def _rich() -> ModuleType | None:
    """``rich`` when installed (the ``[cli]`` extra), else ``None``."""
    try:
        return importlib.import_module("rich")
    except ImportError:
        return None


def rich_for(out: IO[str]) -> bool:
    """Whether to render with ``rich`` on ``out``: it is a terminal and ``rich`` is installed."""
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty()) and _rich() is not None


def _indented(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


class LiveView(ABC):
    """Feed every event; it calls the renderer's ``status``, ``code_run``, ``running`` and ``reasoning``.

    A code run is printed once it is whole: when the accumulator closes it (another run or another
    stage began), or at the end. Until then ``running`` gets it as it grows (its code arrives before
    the sandbox runs it), for a renderer that can show it beside the status.
    """

    def __init__(self, *, show_reasoning: bool) -> None:
        self.show_reasoning = show_reasoning
        self.tracker = StageTracker()
        self._steps = Accumulator(model="", protocol="")  # says when a code run is whole

    def event(self, event: StreamEvent) -> None:
        stage = self.tracker.update(event)
        self._show(self._steps.close() if isinstance(event, Completed) else self._steps.apply(event))
        if isinstance(event, ReasoningDelta) and self.show_reasoning:
            self.reasoning(event.text, new_block=stage is not None)
            return
        if is_work_stage(stage):
            self.status(stage)
        if isinstance(event, CodeRunUpdated) and event.code:
            self.running(event)

    def _show(self, closed: Closed | None) -> None:
        if closed is not None and closed.run is not None and closed.run.code:
            self.code_run(closed.run)

    def close(self) -> None:
        """Show what is still open and leave the terminal clean (idempotent)."""
        self._show(self._steps.close())
        self.end()

    # --- what a renderer provides ---

    @abstractmethod
    def note(self, text: str) -> None:
        """A line for the person (e.g. where the question goes), shown above the live status."""

    @abstractmethod
    def status(self, stage: str) -> None: ...

    @abstractmethod
    def code_run(self, run: CodeRun) -> None: ...

    @abstractmethod
    def reasoning(self, text: str, *, new_block: bool) -> None: ...

    def running(self, run: CodeRunUpdated) -> None:  # noqa: B027 - optional: a renderer may show nothing
        """The code of the run in progress so far (printed for good by ``code_run`` once whole)."""

    @abstractmethod
    def end(self) -> None: ...


class PlainLive(LiveView):
    """A status line on a terminal (ANSI dim, rewritten in place), plain lines when piped."""

    def __init__(self, out: IO[str], *, show_reasoning: bool) -> None:
        super().__init__(show_reasoning=show_reasoning)
        self.out = out
        self.tty = out.isatty()
        self._status_shown = False
        self._mid_line = False  # reasoning text was written without a final newline

    def _clear(self) -> None:
        if self._status_shown:
            self.out.write("\r\033[K")
            self._status_shown = False
        elif self._mid_line:
            self.out.write("\n")
        self._mid_line = False

    def note(self, text: str) -> None:
        self._clear()
        self.out.write(text + "\n")
        self.out.flush()

    def status(self, stage: str) -> None:
        self._clear()
        if self.tty:
            self.out.write(f"\033[2m… {stage}\033[0m")
            self._status_shown = True
        else:
            self.out.write(f"[{stage}]\n")
        self.out.flush()

    def code_run(self, run: CodeRun) -> None:
        self._clear()
        self.out.write(f"▶ code run #{run.index + 1}:\n{_indented(run.code.rstrip())}\n")
        if run.output is not None:
            self.out.write(f"  output:\n{_indented(run.output.rstrip() or '(no output)')}\n")
        self.out.flush()

    def reasoning(self, text: str, *, new_block: bool) -> None:
        if new_block:
            self._clear()
            self.out.write("\n[thinking]\n")
        self.out.write(text)
        self._mid_line = not text.endswith("\n")
        self.out.flush()

    def end(self) -> None:
        self._clear()
        self.out.flush()


class RichLive(LiveView):
    """A spinner with the stage and the time since the call began; code runs highlighted above it."""

    def __init__(self, out: IO[str], *, show_reasoning: bool) -> None:
        super().__init__(show_reasoning=show_reasoning)
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(file=out, highlight=False)
        self._running: CodeRunUpdated | None = None  # shown above the spinner while it runs

        live = self

        class CodeAndSpinner(Progress):
            def get_renderables(self) -> Iterable[RenderableType]:
                if live._running is not None:
                    yield live._code_block(live._running)
                yield from super().get_renderables()

        # We write to the streams we were given; rich must not swap sys.stdout / sys.stderr.
        self._progress = CodeAndSpinner(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._progress.add_task("connecting", total=None)
        self._progress.start()
        self._line = ""  # reasoning text not yet ended by a newline

    def note(self, text: str) -> None:
        self._end_reasoning()
        self.console.print(text, markup=False)

    def status(self, stage: str) -> None:
        self._end_reasoning()
        self._progress.update(self._task, description=stage)

    @staticmethod
    def _code_block(run: CodeRun | CodeRunUpdated) -> RenderableType:
        from rich.console import Group
        from rich.padding import Padding
        from rich.syntax import Syntax
        from rich.text import Text

        return Group(
            Text.from_markup(f"[bold]▶ code run #{run.index + 1}[/bold]"),
            Padding(Syntax(run.code.rstrip(), "python", background_color="default"), (0, 0, 0, 4)),
        )

    def running(self, run: CodeRunUpdated) -> None:
        self._end_reasoning()
        self._running = run
        self._progress.refresh()

    def code_run(self, run: CodeRun) -> None:
        from rich.padding import Padding

        self._end_reasoning()
        self._running = None
        self.console.print(self._code_block(run))
        if run.output is not None:
            self.console.print("  output:", style="dim")
            # Rich reads no markup in a str inside a renderable: brackets print as written.
            self.console.print(Padding(run.output.rstrip() or "(no output)", (0, 0, 0, 4)))

    def reasoning(self, text: str, *, new_block: bool) -> None:
        if new_block:
            self._end_reasoning()
            self._progress.update(self._task, description="thinking")
            self.console.print("[thinking]", style="bold", markup=False)
        *lines, self._line = (self._line + text).split("\n")
        for line in lines:
            self.console.print(line, style="dim", markup=False)

    def _end_reasoning(self) -> None:
        if self._line:
            self.console.print(self._line, style="dim", markup=False)
            self._line = ""

    def end(self) -> None:
        self._end_reasoning()
        self._progress.stop()


def live_view(out: IO[str], *, show_reasoning: bool) -> LiveView:
    """The live view for ``out``: :class:`RichLive` on a terminal with ``rich``, else :class:`PlainLive`."""
    if rich_for(out):
        return RichLive(out, show_reasoning=show_reasoning)
    return PlainLive(out, show_reasoning=show_reasoning)


def print_markdown(text: str, out: IO[str]) -> None:
    """Markdown rendered by ``rich`` on a terminal (code highlighted); the text itself otherwise."""
    if rich_for(out):
        from rich.console import Console
        from rich.markdown import Markdown

        Console(file=out).print(Markdown(text, code_theme="monokai"))
    else:
        out.write(text)
    out.flush()
