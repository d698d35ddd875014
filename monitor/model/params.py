"""Paddle's combined parameter file (``inference.pdiparams``), read and written with numpy.

The bundled model ships its weights as float16 (``inference.pdiparams.fp16``: half the
bytes, so the pretrained encoder fits the wheel) and is widened back to the float32 file
Paddle Inference loads when a registry is seeded or the bundle is opened. The format is a
sequence of serialized tensors, each: uint32 version, uint64 LoD level (and its levels),
uint32 tensor version, int32 size of a ``TensorDesc`` protobuf (field 1: data type, field
2: dims), then the raw little-endian data. Round-tripping a file without a change gives
the same bytes, which the tests check.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.errors import ModelNotFound

__all__ = ["HALF_SUFFIX", "ParamTensor", "halve", "read_params", "widen", "write_params"]

HALF_SUFFIX = ".fp16"
# Paddle's VarType codes for the types a model's parameters use.
_DTYPES = {
    0: np.dtype("bool"),
    2: np.dtype("<i4"),
    3: np.dtype("<i8"),
    4: np.dtype("<f2"),
    5: np.dtype("<f4"),
    6: np.dtype("<f8"),
}
_CODES = {v: k for k, v in _DTYPES.items()}


@dataclass
class ParamTensor:
    head: bytes  # version, LoD and tensor version: kept as read
    dims: list[int]
    data: np.ndarray


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _encode_varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 dims are written as ten bytes, like protobuf
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _desc(buf: bytes) -> tuple[int, list[int]]:
    pos, dtype, dims = 0, None, []
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            if field == 1:
                dtype = value
            elif field == 2:
                dims.append(value - (1 << 64) if value >= 1 << 63 else value)
        elif wire == 2:  # packed dims
            length, pos = _varint(buf, pos)
            end = pos + length
            while pos < end:
                value, pos = _varint(buf, pos)
                dims.append(value)
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    if dtype is None:
        raise ValueError("tensor description without a data type")
    return dtype, dims


def _tensors(raw: bytes) -> Iterator[ParamTensor]:
    pos = 0
    while pos < len(raw):
        start = pos
        (lod_level,) = struct.unpack_from("<Q", raw, pos + 4)
        pos += 12
        for _ in range(lod_level):
            (size,) = struct.unpack_from("<Q", raw, pos)
            pos += 8 + size
        pos += 4  # tensor version
        (desc_size,) = struct.unpack_from("<i", raw, pos)
        head = raw[start:pos]
        pos += 4
        code, dims = _desc(raw[pos : pos + desc_size])
        pos += desc_size
        dtype = _DTYPES.get(code)
        if dtype is None:
            raise ValueError(f"unsupported parameter data type {code}")
        count = int(np.prod(dims)) if dims else 1
        data = np.frombuffer(raw, dtype=dtype, count=count, offset=pos).reshape(dims)
        pos += count * dtype.itemsize
        yield ParamTensor(head, dims, data)


def read_params(path: Path) -> list[ParamTensor]:
    try:
        return list(_tensors(path.read_bytes()))
    except (OSError, ValueError, struct.error) as exc:
        raise ModelNotFound(f"cannot read the model weights {path}: {exc}") from None


def write_params(path: Path, tensors: list[ParamTensor]) -> None:
    """Write ``tensors`` beside ``path`` and rename into place (never a half-written file)."""
    staged = path.with_name(path.name + ".part")
    with staged.open("wb") as out:
        for tensor in tensors:
            desc = b"\x08" + _encode_varint(_CODES[tensor.data.dtype])
            desc += b"".join(b"\x10" + _encode_varint(d) for d in tensor.dims)
            out.write(tensor.head + struct.pack("<i", len(desc)) + desc)
            out.write(np.ascontiguousarray(tensor.data).tobytes())
    staged.replace(path)


def _cast(src: Path, dst: Path, frm: str, to: str) -> None:
    tensors = read_params(src)
    for tensor in tensors:
        if tensor.data.dtype == np.dtype(frm):
            tensor.data = tensor.data.astype(to)
    write_params(dst, tensors)


def halve(src: Path, dst: Path) -> None:
    """float32 weights to float16 (for shipping)."""
    _cast(src, dst, "<f4", "<f2")


def widen(src: Path, dst: Path) -> None:
    """float16 weights back to the float32 Paddle Inference runs."""
    _cast(src, dst, "<f2", "<f4")
