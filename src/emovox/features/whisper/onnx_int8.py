"""PyTorch's dynamic int8 Linear layers, rebuilt op for op in an ONNX graph.

The reference path quantizes Whisper's Linear layers with ``torch.ao`` dynamic
quantization: int8 weights per output channel (symmetric, ``scale = max|w| / 127.5``) and,
on every call, the whole input tensor quantized to 7 bits (``reduce_range``) with a range
that includes 0. onnxruntime's own ``quantize_dynamic`` uses 8-bit activations, so its
embeddings differ from the reference as much as float32's do (and the int8 reference is
sensitive: a -100 dBFS dither flips 8 % of a held-out speaker's labels). This module
rewrites each exported float MatMul of a quantized layer into torch's arithmetic instead::

    lo, hi = min(min(x), 0), max(max(x), 0)
    scale  = float((double(hi) - lo) / 127)            (0.1 when that is 0)
    zp     = clip(round(-lo / scale), 0, 127)
    xq     = uint8(clip(round(float(x * (1 / scale) + zp)), 0, 255))   (half to even)
    y      = float(MatMulInteger(xq, wq, zp)) * (scale * w_scale)     (then + bias, as before)

which gives torch's output of every Linear layer to float rounding (measured on Whisper
base activations: max |difference| below 1e-5 per layer). ``round`` is half-to-even in
both. 7-bit activations also keep u8 x s8 products from saturating on CPUs without VNNI.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

QMAX = 127
"""Largest quantized activation: 7 bits, as torch's ``reduce_range=True``."""


def rewrite_int8(model: object, weights: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> int:
    """Replace the MatMul nodes named in ``weights`` in ``model`` (an ``onnx.ModelProto``).

    ``weights`` maps a node name to ``(wq, w_scale)``: the int8 weight as torch stores it,
    shape (out, in), and its float per-output-channel scales. The float weight
    initializers left unused are dropped. Returns the number of nodes replaced.
    """
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    constants = {
        "int8/zero": np.array(0.0, np.float32),
        "int8/fallback": np.array(0.1, np.float32),
        "int8/one_d": np.array(1.0, np.float64),
        "int8/qmax_d": np.array(float(QMAX), np.float64),
        "int8/zero_d": np.array(0.0, np.float64),
        "int8/one": np.array(1.0, np.float32),
        "int8/zero_u8": np.array(0, np.uint8),
    }
    initializers = [numpy_helper.from_array(v, k) for k, v in constants.items()]
    nodes, replaced = [], 0
    for node in graph.node:
        if node.op_type != "MatMul" or node.name not in weights:
            nodes.append(node)
            continue
        wq, w_scale = weights[node.name]
        p = f"int8{node.name}/"
        initializers += [
            numpy_helper.from_array(np.ascontiguousarray(wq.T, dtype=np.int8), p + "wq"),
            numpy_helper.from_array(np.asarray(w_scale, dtype=np.float32), p + "w_scale"),
        ]
        x, make = node.input[0], helper.make_node
        double, single, u8 = TensorProto.DOUBLE, TensorProto.FLOAT, TensorProto.UINT8
        nodes += [
            make("ReduceMin", [x], [p + "min_all"], keepdims=0),
            make("Min", [p + "min_all", "int8/zero"], [p + "lo"]),
            make("ReduceMax", [x], [p + "max_all"], keepdims=0),
            make("Max", [p + "max_all", "int8/zero"], [p + "hi"]),
            make("Cast", [p + "lo"], [p + "lo_d"], to=double),
            make("Cast", [p + "hi"], [p + "hi_d"], to=double),
            make("Sub", [p + "hi_d", p + "lo_d"], [p + "range_d"]),
            make("Div", [p + "range_d", "int8/qmax_d"], [p + "scale_d0"]),
            make("Cast", [p + "scale_d0"], [p + "scale_f0"], to=single),
            make("Equal", [p + "scale_f0", "int8/zero"], [p + "scale_is_zero"]),
            make("Where", [p + "scale_is_zero", "int8/fallback", p + "scale_f0"], [p + "scale"]),
            make("Cast", [p + "scale"], [p + "scale_d"], to=double),
            make("Neg", [p + "lo_d"], [p + "neg_lo_d"]),
            make("Div", [p + "neg_lo_d", p + "scale_d"], [p + "zp_raw"]),
            make("Round", [p + "zp_raw"], [p + "zp_round"]),
            make("Clip", [p + "zp_round", "int8/zero_d", "int8/qmax_d"], [p + "zp_d"]),
            make("Cast", [p + "zp_d"], [p + "zp_f"], to=single),
            make("Cast", [p + "zp_d"], [p + "zp_u8"], to=u8),
            make("Div", ["int8/one_d", p + "scale_d"], [p + "inv_d"]),
            make("Cast", [p + "inv_d"], [p + "inv"], to=single),
            make("Mul", [x, p + "inv"], [p + "x_scaled"]),
            make("Add", [p + "x_scaled", p + "zp_f"], [p + "x_shifted"]),
            # round half to even and saturate to 0..255: QuantizeLinear with scale 1, zp 0
            make("QuantizeLinear", [p + "x_shifted", "int8/one", "int8/zero_u8"], [p + "xq"]),
            make("MatMulInteger", [p + "xq", p + "wq", p + "zp_u8"], [p + "acc"]),
            make("Cast", [p + "acc"], [p + "acc_f"], to=single),
            make("Mul", [p + "scale", p + "w_scale"], [p + "out_scale"]),
            make("Mul", [p + "acc_f", p + "out_scale"], [node.output[0]]),
        ]
        replaced += 1
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(initializers)
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return replaced
