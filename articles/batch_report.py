"""What a bulk command (regenerate_renditions, transfer_photos) reports: one outcome per photo, each
with a status and the bytes it moved."""

from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field
from itertools import islice

FAILED, NOT_TRIED = "failed", "not tried"


@dataclass
class BatchReport:
    outcomes: list = field(default_factory=list)

    def of(self, status):
        return [outcome for outcome in self.outcomes if outcome.status == status]

    @property
    def bytes(self):
        return sum(outcome.bytes for outcome in self.outcomes)

    @property
    def ok(self):
        """Every photo done: none failed, none left untried after a failure of the store itself."""
        return not self.of(FAILED) and not self.of(NOT_TRIED)


def run_in_hand(executor, items, work, in_hand, report, progress=None):
    """``work(*item)`` for each item in ``executor``, at most ``in_hand`` at once: the next item is
    taken only as one ends, so memory holds that many photos and a Ctrl-C stops after them. Each
    outcome goes into ``report.outcomes`` (and to ``progress``) as it comes."""
    items = iter(items)
    running = {executor.submit(work, *item) for item in islice(items, in_hand)}
    while running:
        finished, running = wait(running, return_when=FIRST_COMPLETED)
        for future in finished:
            report.outcomes.append(future.result())
            if progress:
                progress(report.outcomes[-1])
        running |= {executor.submit(work, *item) for item in islice(items, len(finished))}
