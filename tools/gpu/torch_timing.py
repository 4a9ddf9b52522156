"""Helpers the PyTorch comparison scripts share (torch_moe.py, torch_mla.py, torch_reduced.py): CUDA-event medians and
command-line values. Staged beside them by tools/gpu/stage.sh; each script imports it from its own folder."""
import sys
import torch


def arg(name):
    """The value after `name` on the command line, or None."""
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None


def timeit(fn, reps=20, warm=3):
    """Median seconds of `reps` calls of fn, each timed by CUDA events after `warm` untimed calls."""
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); torch.cuda.synchronize(); ts.append(a.elapsed_time(b) / 1e3)
    ts.sort()
    return ts[len(ts) // 2]
