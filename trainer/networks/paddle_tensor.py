"""One tensor in Paddle's legacy ``save_persistables`` format, read without Paddle 1.x."""

from __future__ import annotations

import struct
from typing import IO

import numpy as np

from trainer.errors import DataError

__all__ = ["read_lod_tensor"]

_FP32 = 5  # paddle VarType.FP32 in the tensor description


def read_lod_tensor(handle: IO[bytes]) -> np.ndarray:
    """One tensor in Paddle's legacy ``save_persistables`` format (fluid 1.x LoDTensor):

    uint32 version, uint64 LoD level count, each level's (uint64 byte size, offsets),
    uint32 tensor version, int32 size of a ``TensorDesc`` protobuf, the protobuf
    (field 1 data type, repeated field 2 dims, as varints), then raw little-endian data.
    Parsed by hand so no Paddle 1.x is needed and a truncated file is caught, not misread.
    """

    def take(n: int) -> bytes:
        chunk = handle.read(n)
        if len(chunk) != n:
            raise DataError("tensor file ends early")
        return chunk

    (version,) = struct.unpack("<I", take(4))
    if version != 0:
        raise DataError(f"unknown LoDTensor version {version}")
    (levels,) = struct.unpack("<Q", take(8))
    for _ in range(levels):
        (size,) = struct.unpack("<Q", take(8))
        take(size)
    (tensor_version,) = struct.unpack("<I", take(4))
    if tensor_version != 0:
        raise DataError(f"unknown tensor version {tensor_version}")
    (desc_size,) = struct.unpack("<i", take(4))
    dtype, dims = _tensor_desc(take(desc_size))
    if dtype != _FP32:
        raise DataError(f"tensor data type {dtype} is not float32")
    count = int(np.prod(dims)) if dims else 0
    data = np.frombuffer(take(count * 4), dtype="<f4").astype(np.float32)
    if handle.read(1):
        raise DataError("bytes left after the tensor data")
    return data.reshape(dims)


def _tensor_desc(blob: bytes) -> tuple[int, list[int]]:
    """Fields 1 (data type) and 2 (dims, repeated int64) of a TensorDesc protobuf."""
    dtype, dims, at = -1, [], 0

    def varint() -> int:
        nonlocal at
        value, shift = 0, 0
        while True:
            if at >= len(blob):
                raise DataError("malformed tensor description")
            byte = blob[at]
            at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while at < len(blob):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0 and field == 1:
            dtype = varint()
        elif wire == 0 and field == 2:
            dims.append(varint())
        elif wire == 2 and field == 2:  # packed dims
            end = varint() + at
            while at < end:
                dims.append(varint())
        else:
            raise DataError(f"unexpected field {field} in tensor description")
    return dtype, dims
