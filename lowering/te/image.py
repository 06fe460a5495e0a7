"""Image ops: resize, depth_to_space and space_to_depth (NCHW)."""

from __future__ import annotations

from ..tvm_adapter import te, tir
from . import LoweringError, lowers
from .common import attr, const, out_shape


@lowers("nn.depth_to_space")
def depth_to_space(op, x):
    bs = attr(op, "blocksize")
    c_out = out_shape(op)[1]
    crd = attr(op, "mode", "DCR") == "CRD"

    def at(b, ch, i, j):
        di, dj = i % bs, j % bs
        src = ch * bs * bs + di * bs + dj if crd else (di * bs + dj) * c_out + ch
        return x[b, src, i // bs, j // bs]
    return te.compute(out_shape(op), at, name="depth_to_space")


@lowers("nn.space_to_depth")
def space_to_depth(op, x):
    bs = attr(op, "blocksize")
    c_in = int(x.shape[1])

    def at(b, ch, i, j):
        block, src_c = ch // c_in, ch % c_in
        return x[b, src_c, i * bs + block // bs, j * bs + block % bs]
    return te.compute(out_shape(op), at, name="space_to_depth")


@lowers("nn.resize")
def resize(op, x):
    """4-D NCHW resize of H and W; nearest or linear, ONNX coordinate modes."""
    n, c, h, w = (int(d) for d in x.shape)
    _, _, oh, ow = out_shape(op)
    mode = attr(op, "mode", "nearest")
    ctm = attr(op, "coordinate_transformation_mode", "half_pixel")
    nearest_mode = attr(op, "nearest_mode", "round_prefer_floor")
    f32 = "float32"

    def source(i, out_len, in_len):
        scale = out_len / in_len
        i = i.astype(f32)
        if ctm == "asymmetric":
            return i / const(scale, f32)
        if ctm == "align_corners":
            return i * const((in_len - 1) / (out_len - 1) if out_len > 1 else 0.0, f32)
        if ctm == "pytorch_half_pixel" and out_len == 1:
            return const(0.0, f32)
        return (i + const(0.5, f32)) / const(scale, f32) - const(0.5, f32)  # half_pixel

    def nearest(s, in_len):
        if nearest_mode == "floor":
            k = tir.floor(s)
        elif nearest_mode == "ceil":
            k = tir.ceil(s)
        elif nearest_mode == "round_prefer_ceil":
            k = tir.floor(s + const(0.5, f32))
        else:  # round_prefer_floor
            k = tir.ceil(s - const(0.5, f32))
        return tir.min(tir.max(k.astype("int64"), 0), in_len - 1)

    if mode == "nearest":
        return te.compute((n, c, oh, ow), lambda b, ch, i, j: x[
            b, ch, nearest(source(i, oh, h), h), nearest(source(j, ow, w), w)], name="resize")
    if mode != "linear":
        raise LoweringError(f"nn.resize mode {mode!r} is not lowered")

    def lerp_axis(s, in_len):
        s = tir.min(tir.max(s, const(0.0, f32)), const(in_len - 1, f32))
        lo = tir.floor(s).astype("int64")
        hi = tir.min(lo + 1, in_len - 1)
        return lo, hi, s - lo.astype(f32)

    def at(b, ch, i, j):
        y0, y1, fy = lerp_axis(source(i, oh, h), h)
        x0, x1, fx = lerp_axis(source(j, ow, w), w)
        top = x[b, ch, y0, x0].astype(f32) * (const(1.0, f32) - fx) + x[b, ch, y0, x1].astype(f32) * fx
        bottom = x[b, ch, y1, x0].astype(f32) * (const(1.0, f32) - fx) + x[b, ch, y1, x1].astype(f32) * fx
        return (top * (const(1.0, f32) - fy) + bottom * fy).astype(x.dtype)
    return te.compute((n, c, oh, ow), at, name="resize")
