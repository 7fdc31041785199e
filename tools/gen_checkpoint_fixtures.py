#!/usr/bin/env python3
"""Fixtures for the PyTorch checkpoint reader and the converter (tests/io/test_torch_checkpoint.cpp,
tests/io/test_zip_reader.cpp, tests/io/test_convert.cpp), written by torch.save itself and by
Python's zipfile/pickle, so that tv3s is checked against the real thing:

  ckpt_state_dict.pth        an OrderedDict state dict with `_metadata`: f32, f16, bf16, f64,
                             int64, int32, uint8, bool, a 0-d and an empty tensor, an
                             nn.Parameter, a transposed (non-contiguous) view, three views at
                             different offsets/strides into one shared storage
  ckpt_state_dict_p4.pth     the same, pickle protocol 4 (STACK_GLOBAL, MEMOIZE, FRAME)
  ckpt_state_dict_zip64.pth  the same entries re-zipped with ZIP64 extra fields and records
  ckpt_mmseg.pth             {state_dict, meta: {CLASSES, PALETTE, config, ...}, optimizer}
  ckpt_nested.pth            {"model": nested dicts (an int key too), "epoch": 4}
  ckpt_hf_shared.bin         Hugging Face names (one attention layer, C = 4) whose query/key/
                             value weights are strided views into one storage, as in
                             pytorch_model.bin files
  ckpt_*.json                the expected tensors (dtype, shape, values in row-major order)
                             and meta
  evil_reduce.pth            torch.save of an object whose __reduce__ is
  evil_reduce_p4.pth         (os.system, ("touch /tmp/tv3s_pickle_marker_must_not_exist",)),
                             protocol 2 (GLOBAL) and 4 (STACK_GLOBAL); never load them
  bad_*.pth                  broken archives and pickles, one fault each (see bad_fixtures()):
                             truncated, a flipped byte (CRC), a local header offset beyond
                             the file, deflated entries, no data.pkl, a missing or short
                             storage entry, a view reaching past its storage, an unknown
                             opcode, big-endian byte order, an int64 beyond int32
  hf_segformer_names.json    the parameter names and shapes of transformers' Segformer models
                             (b0 segmentation with 150 classes, b0 image classification,
                             b2 segmentation with its 768-wide decode head), built locally
                             from configs (no download, no weights)

Usage:  pip install torch transformers
        python3 tools/gen_checkpoint_fixtures.py
"""
import collections
import io
import json
import os
import pickle
import struct
import zipfile

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "io")
MARKER = "/tmp/tv3s_pickle_marker_must_not_exist"
TV3S_DTYPE = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16",
              torch.float64: "f64", torch.int64: "i32", torch.int32: "i32", torch.uint8: "u8",
              torch.bool: "u8"}


def out(name):
    return os.path.join(OUT, name)


def expected(tensors, meta=None):
    """What tv3s must read: name → dtype, shape, row-major values as numbers."""
    return {"tensors": [{"name": name, "dtype": TV3S_DTYPE[t.dtype], "shape": list(t.shape),
                         "values": t.detach().double().flatten().tolist()}
                        for name, t in tensors.items()],
            "meta": meta}


def write_json(name, obj, indent=1):
    with open(out(name), "w") as f:
        json.dump(obj, f, indent=indent, separators=None if indent else (",", ":"))
        f.write("\n")


def state_dict():
    g = torch.Generator().manual_seed(7)
    sd = collections.OrderedDict()
    sd["f32"] = torch.randn(2, 3, generator=g)
    sd["f16"] = torch.randn(4, generator=g).half()
    sd["bf16"] = torch.randn(2, 2, generator=g).bfloat16()
    sd["f64"] = torch.randn(3, generator=g).double()
    sd["i64"] = torch.tensor([-5, 0, 2**31 - 1, -2**31])
    sd["i32"] = torch.tensor([1, -2, 3], dtype=torch.int32)
    sd["u8"] = torch.tensor([0, 255, 7], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 4)
    sd["param"] = torch.nn.Parameter(torch.tensor([0.5, -0.25]))
    sd["transposed"] = torch.arange(12.0).view(3, 4).t()
    base = torch.arange(100.0, 124.0)                  # one storage, three views
    sd["shared.rows"] = base[2:8].view(2, 3)            # offset 2, strides (3, 1)
    sd["shared.every_other"] = base[10:22].view(3, 4)[:, ::2]  # offset 10, strides (4, 2)
    sd["shared.transposed"] = base.view(4, 6).t()[1:3]  # offset 1, strides (1, 6)
    sd["bn.num_batches_tracked"] = torch.tensor(7)
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("bn", {"version": 2})])
    assert not sd["transposed"].is_contiguous() and not sd["shared.transposed"].is_contiguous()
    return sd


def rezip_zip64(src, dst):
    """The entries of `src` written again with ZIP64 extra fields in every header and a ZIP64
    end record (what torch writes for files over 4 GiB), by lowering zipfile's limit."""
    saved = zipfile.ZIP64_LIMIT
    zipfile.ZIP64_LIMIT = 8
    try:
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
            for info in zin.infolist():
                zout.writestr(info.filename, zin.read(info.filename))
    finally:
        zipfile.ZIP64_LIMIT = saved
    with open(dst, "rb") as f:
        data = f.read()
    assert b"PK\x06\x06" in data and b"\xff\xff\xff\xff" in data  # ZIP64 record, 32-bit markers


class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + MARKER,))


def write_zip(path, entries, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in entries.items():
            z.writestr(name, data)


def zip_entries(path):
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i.filename) for i in z.infolist()}


def central_record(data, name):
    """Offset of the central directory record of `name` in the zip bytes `data`."""
    pos = data.index(b"PK\x01\x02")
    while data[pos:pos + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack("<HHH", data[pos + 28:pos + 34])
        if data[pos + 46:pos + 46 + n] == name.encode():
            return pos
        pos += 46 + n + m + k
    raise KeyError(name)


class FakeStorage:
    """Pickled through persistent_id as a 4-element FloatStorage with key '0'."""


class FakeTensor:
    def __init__(self, size, stride, offset=0):
        self.args = (FakeStorage(), offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


def crafted_pickle(obj):
    """A torch-style data.pkl whose FakeStorage persistent ids name storage '0'."""
    buf = io.BytesIO()
    p = pickle.Pickler(buf, protocol=2)
    p.persistent_id = lambda o: (("storage", torch.FloatStorage, "0", "cpu", 4)
                                 if isinstance(o, FakeStorage) else None)
    p.dump(obj)
    return buf.getvalue()


def bad_fixtures():
    small = out("bad_base.pth")
    torch.save({"w": torch.arange(4.0)}, small)
    data = open(small, "rb").read()
    entries = zip_entries(small)
    os.remove(small)
    prefix = "bad_base/"
    storage = prefix + "data/0"

    open(out("bad_truncated.pth"), "wb").write(data[:len(data) // 2])

    crc = bytearray(data)  # one flipped byte inside the storage's bytes
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo(storage)
    n, m = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    crc[info.header_offset + 30 + n + m] ^= 0x40
    open(out("bad_crc.pth"), "wb").write(bytes(crc))

    offset = bytearray(data)  # the storage's local header "beyond the end of the file"
    rec = central_record(data, storage)
    offset[rec + 42:rec + 46] = struct.pack("<I", len(data) + 1000)
    open(out("bad_offset.pth"), "wb").write(bytes(offset))

    write_zip(out("bad_compressed.pth"), entries, zipfile.ZIP_DEFLATED)
    write_zip(out("bad_no_pickle.pth"), {"notes/readme.txt": b"not a checkpoint"})
    write_zip(out("bad_missing_storage.pth"),
              {k: v for k, v in entries.items() if k != storage})
    write_zip(out("bad_short_storage.pth"), {**entries, storage: entries[storage][:12]})

    pkl = prefix + "data.pkl"
    view = crafted_pickle({"w": FakeTensor((3, 2), (2, 1), offset=0)})  # needs 6 of 4 elements
    write_zip(out("bad_view_too_large.pth"), {**entries, pkl: view})
    write_zip(out("bad_opcode.pth"), {**entries, pkl: b"\x80\x02}q\x00\xff."})
    write_zip(out("bad_big_endian.pth"), {**entries, prefix + "byteorder": b"big"})

    torch.save({"big": torch.tensor([1, 2**40])}, out("bad_int64_range.pth"))


def hf_names():
    from transformers import (SegformerConfig, SegformerForImageClassification,
                              SegformerForSemanticSegmentation)
    b2 = dict(hidden_sizes=[64, 128, 320, 512], depths=[3, 4, 6, 3], decoder_hidden_size=768)
    models = {
        "segformer-b0": SegformerForSemanticSegmentation(SegformerConfig(num_labels=150)),
        "mit-b0": SegformerForImageClassification(SegformerConfig(num_labels=1000)),
        "segformer-b2": SegformerForSemanticSegmentation(SegformerConfig(num_labels=150, **b2)),
    }
    write_json("hf_segformer_names.json",
               {k: [[n, list(t.shape)] for n, t in m.state_dict().items()]
                for k, m in models.items()}, indent=None)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(20261121)
    sd = state_dict()
    torch.save(sd, out("ckpt_state_dict.pth"))
    torch.save(sd, out("ckpt_state_dict_p4.pth"), pickle_protocol=4)
    rezip_zip64(out("ckpt_state_dict.pth"), out("ckpt_state_dict_zip64.pth"))
    write_json("ckpt_state_dict.json", expected(sd))

    weights = collections.OrderedDict([
        ("backbone.patch_embed1.proj.weight", torch.randn(2, 3, 1, 1)),
        ("decode_head.linear_pred.bias", torch.tensor([0.5, -1.5])),
    ])
    meta = {"CLASSES": ("sky", "road"), "PALETTE": [[1, 2, 3], [250, 128, 0]],
            "config": "model = dict(type='EncoderDecoder')\n", "mmseg_version": "0.11.0",
            "seed": None, "lr": 0.5, "flag": True, "nested": {"a": [1, (2, 3)]},
            "blob": b"\x00\x01"}
    optimizer = {"state": {0: {"step": 3, "exp_avg": torch.ones(2, 3, 1, 1)}},
                 "param_groups": [{"lr": 6e-5, "betas": (0.9, 0.999), "params": [0, 1]}]}
    torch.save({"meta": meta, "state_dict": weights, "optimizer": optimizer},
               out("ckpt_mmseg.pth"))
    json_meta = json.loads(json.dumps({**meta, "blob": None}))
    write_json("ckpt_mmseg.json", expected(weights, json_meta))

    nested = {"encoder": {"layer": {"w": torch.tensor([[1.0, 2.0]])}, "note": "text"},
              "head.b": torch.tensor([3.0]), 3: torch.tensor([4], dtype=torch.int64)}
    torch.save({"model": nested, "epoch": 4}, out("ckpt_nested.pth"))
    write_json("ckpt_nested.json", expected(collections.OrderedDict([
        ("encoder.layer.w", nested["encoder"]["layer"]["w"]), ("head.b", nested["head.b"]),
        ("3", nested[3])])))

    qkv = torch.arange(48.0).view(12, 4)  # rows: query, key, value of one C = 4 layer
    att = "segformer.encoder.block.0.0.attention.self."
    hf = collections.OrderedDict([
        (att + "query.weight", qkv[0:4]), (att + "key.weight", qkv[4:8]),
        (att + "value.weight", qkv[8:12].t()),  # a transposed view: values differ from rows
        (att + "key.bias", qkv[:, 0][4:8]), (att + "value.bias", qkv[:, 1][8:12]),
        ("decode_head.batch_norm.num_batches_tracked", torch.tensor(0)),
    ])
    torch.save(hf, out("ckpt_hf_shared.bin"))
    write_json("ckpt_hf_shared.json", expected(hf))

    torch.save({"state_dict": {"w": torch.ones(1)}, "evil": Evil()}, out("evil_reduce.pth"))
    torch.save({"evil": Evil()}, out("evil_reduce_p4.pth"), pickle_protocol=4)

    bad_fixtures()
    hf_names()


if __name__ == "__main__":
    main()
