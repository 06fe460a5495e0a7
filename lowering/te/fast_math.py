"""exp and erf as polynomial expressions, for float32: LLVM vectorizes them, where `tir.exp` and
`tir.erf` become one libm call per element (measured: erf over 128x1024 floats 0.36 ms as a call,
a few hundredths as the polynomial; softmax's exp likewise).

Both are the classic single-precision approximations TVM's own `topi.fast_exp` / `fast_erf` use
(Cephes' expf: range reduction by ln 2 and a degree-6 polynomial; Eigen's erf: a 13/8 rational
fit on [-4, 4]), written here as expressions so that they inline into any compute, with the edge
cases numpy gives: exp overflows to inf and underflows to 0, NaN stays NaN. Accuracy is a few
float32 ulps (checked against numpy in tests/test_lowering_cpu.py). Other dtypes keep the libm
calls: f64 needs the precision, f16/bf16 the exact rounding.
"""

from __future__ import annotations

from ..tvm_adapter import tir
from .common import expr_dtype

_EXP_POLY = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1)
_ERF_ALPHA = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
              -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02)
_ERF_BETA = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
             -1.42647390514189e-02)


def _f(value: float):
    return tir.const(value, "float32")


def _horner(x, coefficients):
    acc = _f(coefficients[0])
    for c in coefficients[1:]:
        acc = acc * x + _f(c)
    return acc


def exp(v):
    """e**v: exp(v) = 2**n * exp(r), n = round(v / ln 2), r = v - n ln 2 in [-ln2/2, ln2/2]."""
    if expr_dtype(v) != "float32":
        return tir.exp(v)
    x = tir.max(tir.min(v, _f(88.72283935546875)), _f(-87.3365478515625))  # log of the largest/smallest normal
    n = tir.floor(x * _f(1.44269504088896341) + _f(0.5))
    r = x - n * _f(0.693359375) + n * _f(2.12194440e-4)  # ln 2 in two parts (Cephes C1, C2)
    y = _horner(r, _EXP_POLY) * r * r + r + _f(1.0)
    top = n > _f(127.0)  # 2**128 is not a float32: scale by 2**127, then by 2
    k = tir.Select(top, n - _f(1.0), n)
    two_k = tir.reinterpret("float32", (k.astype("int32") + tir.const(127, "int32")) << tir.const(23, "int32"))
    e = two_k * y * tir.Select(top, _f(2.0), _f(1.0))
    e = tir.Select(v > _f(88.72283935546875), _f(float("inf")), e)
    e = tir.Select(v < _f(-87.3365478515625), _f(0.0), e)  # numpy gives subnormals below; 0 is within atol
    return tir.Select(tir.isnan(v), v, e)  # NaN


def erf(v):
    """erf(v) = v * P(v^2) / Q(v^2) on [-4, 4] (|erf| is 1 to float32 precision beyond)."""
    if expr_dtype(v) != "float32":
        return tir.erf(v)
    x = tir.max(tir.min(v, _f(4.0)), _f(-4.0))
    x2 = x * x
    return tir.Select(tir.isnan(v), v, x * _horner(x2, _ERF_ALPHA) / _horner(x2, _ERF_BETA))
