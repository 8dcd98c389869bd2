"""rich progress bars for the steps of a run."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


class RichProgress:
    """One bar per step (read, each stage), advanced as its tasks finish."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, step: str, total: int) -> None:
        self._tasks[step] = self._progress.add_task(step, total=total)

    def advance(self, step: str, amount: int = 1) -> None:
        if step not in self._tasks:  # a counter without a known total (documents read so far)
            self._tasks[step] = self._progress.add_task(step, total=None)
        self._progress.advance(self._tasks[step], amount)

    def finish(self, step: str) -> None:
        task = self._tasks.get(step)
        if task is not None:
            state = self._progress.tasks[task]
            if state.total is None:  # a counter: its count becomes its total, and its clock stops
                self._progress.update(task, total=state.completed)
            else:
                self._progress.update(task, completed=state.total)
