"""TVM kernels read a little outside their padded inputs; lamina's buffers leave room for it.

te/conv.py writes padding as Select(inside, x[clamp(i - top)], 0); TVM 0.27's simplifier drops
the clamp under the Select's condition and LLVM's select loads both sides, so a padded conv
loads row -1 of its input (the value is thrown away). When the row before the buffer is not
mapped, the process dies: ShuffleNet's package did, in the lean runner. Every buffer lamina
hands a kernel comes from `aligned_empty`, which keeps GUARD_BYTES of allocated memory on each
side.

The first test shows TVM's behaviour (in a child process, which it kills): when it stops
reading outside, the guard can go. The second checks the guard on a buffer placed the same way.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from lamina.lowering.build import ALIGN, GUARD_BYTES, aligned_empty

CHILD = r"""
import ctypes, mmap, sys
import numpy as np
import lamina
from lamina.lowering import tvm_adapter

k = lamina.kernel('''
  func.func @main(%x: tensor<1x1x8x8xf32>, %w: tensor<1x1x3x3xf32>) -> tensor<1x1x8x8xf32> {
    %y = nn.conv2d %x, %w attributes {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x1x8x8xf32>, tensor<1x1x3x3xf32>) -> tensor<1x1x8x8xf32>
    func.return %y : tensor<1x1x8x8xf32>
  }''')
page = mmap.PAGESIZE
region = mmap.mmap(-1, 2 * page)
base = ctypes.addressof(ctypes.c_char.from_buffer(region))
libc = ctypes.CDLL(None)
assert libc.mprotect(ctypes.c_void_p(base), page, 1) == 0  # the page before the input: PROT_READ
if sys.argv[1] == "unmapped":
    assert libc.mprotect(ctypes.c_void_p(base), page, 0) == 0  # PROT_NONE: a load there faults
x = np.frombuffer(region, np.float32, 64, offset=page).reshape(1, 1, 8, 8)
x[...] = 1.0
from lamina.lowering.build import aligned_empty
w = aligned_empty((1, 1, 3, 3), np.float32)
w[...] = 1.0
out = aligned_empty((1, 1, 8, 8), np.float32)
k.built.kernel.function(*[tvm_adapter.shared_tensor(a) for a in (x, w, out)])
print(out[0, 0, 0, 0], out[0, 0, 4, 4])
"""


def test_tvm_still_reads_before_a_padded_input():
    """With the page before the input readable, the conv is right (a corner sums 4 ones, the
    middle 9); with it unmapped, the same call dies of SIGSEGV. If it stops dying, TVM keeps the
    clamp now: GUARD_BYTES in lowering/build.py and runtime/package_runner.py can go."""
    ok = subprocess.run([sys.executable, "-c", CHILD, "mapped"], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert ok.stdout.split() == ["4.0", "9.0"]
    crash = subprocess.run([sys.executable, "-c", CHILD, "unmapped"], capture_output=True, text=True, timeout=300)
    assert crash.returncode != 0, "TVM no longer reads before a padded input: the guard can be lifted"


def test_buffers_have_readable_memory_around_them():
    for shape, dtype in (((1, 1, 8, 8), np.float32), ((3,), np.int64)):
        a = aligned_empty(shape, dtype)
        assert a.ctypes.data % ALIGN == 0 and a.shape == shape and a.dtype == dtype
        base = a.base if a.base is not None else a
        while getattr(base, "base", None) is not None:
            base = base.base
        start = a.ctypes.data - base.ctypes.data
        assert start >= GUARD_BYTES
        assert base.nbytes - start - a.nbytes >= GUARD_BYTES
