"""Each notebook runs twice in a row in one output folder (a learner re-running a chapter after a
disconnect): the same cells again in a fresh kernel, right after the first run, with nbval's checks
on both.  The second run finds the first run's checkpoints and cached judges, so it must resume or
reuse them and still draw every figure.  The second run's items carry the ``second_run`` marker:
``make test``'s test-time section reports their share of the suite (``tests/file_schedule.py``)."""

import copy

import pytest

try:
    from nbval.plugin import IPyNbCell, IPyNbFile
except ImportError:  # nbval missing: pytest collects no notebook anyway
    IPyNbCell = IPyNbFile = None

SECOND = " (run 2)"


class FreshKernel(pytest.Item):
    """Between the two runs: the notebook's kernel is stopped and a new one started."""

    def runtest(self):
        self.parent.kernel.stop()
        self.parent.setup()  # nbval's set-up: a new kernel in the notebook's folder

    def reportinfo(self):
        return self.path, 0, f"{self.parent.name}: a fresh kernel for the second run"


def pytest_collection_modifyitems(config, items):
    if IPyNbCell is None:
        return
    runs = []
    for item in items:
        if isinstance(item, IPyNbCell) and not item.name.endswith(SECOND):
            if not runs or runs[-1][0] is not item.parent:
                runs.append((item.parent, []))
            runs[-1][1].append(item)
    for notebook, cells in runs:
        again = [FreshKernel.from_parent(notebook, name="fresh kernel" + SECOND)] + [
            IPyNbCell.from_parent(
                notebook,
                name=cell.name + SECOND,
                cell_num=cell.cell_num,
                # a copy: nbval's coalesce_streams merges a cell's stream outputs into the first
                # one in place, so a reference shared with the first run would repeat its text
                cell=copy.deepcopy(cell.cell),
                options=cell.options,
            )
            for cell in cells
        ]
        for item in again:
            item.add_marker(pytest.mark.second_run)
        at = items.index(cells[-1]) + 1
        items[at:at] = again
