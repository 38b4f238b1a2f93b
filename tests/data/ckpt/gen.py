#!/usr/bin/python3
"""Generates the small checkpoints tests/test_ckpt.c reads and the seed corpus of
tests/fuzz/fuzz_ckpt.c. Run with Debian's python (it has torch):

    /usr/bin/python3 tests/data/ckpt/gen.py

Values are small integers (exact in float32) so the C test can state them. Files:
  views.legacy.ckpt / views.zip.ckpt   generator + mapping_network state dicts holding views
      (transposed, offset, shared storages), a DataParallel `module.` prefix, an nn.Parameter,
      storages tagged cuda:0 (legacy), plus entries a reader must ignore (step counter,
      discriminator, optimiser state)
  views.deflate.zip.ckpt               views.zip.ckpt re-zipped with deflate (read via libzip)
  views.stored.zip.ckpt                views.zip.ckpt re-zipped stored without torch's 64-byte
                                       padding (unaligned data: copied on get)
  wing.legacy.ckpt                     {'state_dict'}: FAN-style keys, an int64 counter and
                                       layers of a larger FAN to ignore
  evil_global.legacy.ckpt / .zip.ckpt  a pickle that would call os.system (must be refused)
"""
import collections
import os
import shutil
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "fuzz", "corpus_fuzz_ckpt")


def save_legacy(obj, path, cuda_tag=False):
    if not cuda_tag:
        torch.save(obj, path, _use_new_zipfile_serialization=False)
        return
    # torch writes the storage's device as its location; fake 'cuda:0' without a GPU
    import torch.serialization as ser
    orig = ser.location_tag
    ser.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    finally:
        ser.location_tag = orig


def views_obj():
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)  # 0..11
    gen = collections.OrderedDict()
    gen["a.weight"] = base                     # contiguous, offset 0
    gen["b.weight"] = base.t()                 # 4x3 transposed view of the same storage
    gen["c.bias"] = base[1]                    # [4, 5, 6, 7]: offset 4
    gen["module.d.weight"] = torch.full((2, 2), 3.0)
    gen["e.weight"] = torch.nn.Parameter(torch.tensor([[1.0, -2.0]]), requires_grad=False)
    gen["f.weight"] = base[:, 1]               # [1, 5, 9]: strided 1-D view
    mp = collections.OrderedDict()
    mp["shared.0.weight"] = torch.tensor([[0.5, -0.5]])
    mp["n.num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)
    disc = {"main.0.weight": torch.ones(2, 2)}
    optim = {"state": {0: {"step": 3, "exp_avg": torch.zeros(2)}},
             "param_groups": [{"lr": 1e-4, "betas": (0.0, 0.99), "params": [0]}]}
    return {"generator": gen, "mapping_network": mp, "step": 100000,
            "discriminator": disc, "optims": optim}


def wing_obj():
    sd = collections.OrderedDict()
    sd["conv1.conv.weight"] = torch.arange(4, dtype=torch.float32).reshape(2, 2)
    sd["bn1.num_batches_tracked"] = torch.tensor(0, dtype=torch.int64)
    sd["m0.b1_4.conv1.weight"] = torch.full((3,), 2.0)
    sd["m1.b1_4.conv1.weight"] = torch.zeros(3, 3)  # larger FAN: ignored
    sd["l1.weight"] = torch.zeros(3, 3)
    sd["bl0.weight"] = torch.zeros(3, 3)
    sd["top_m_1.bn1.weight"] = torch.zeros(3, 3)
    return {"state_dict": sd}


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def rezip(src, dst, method):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", method) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))


def main():
    out = lambda name: os.path.join(HERE, name)
    save_legacy(views_obj(), out("views.legacy.ckpt"), cuda_tag=True)
    torch.save(views_obj(), out("views.zip.ckpt"))
    rezip(out("views.zip.ckpt"), out("views.deflate.zip.ckpt"), zipfile.ZIP_DEFLATED)
    rezip(out("views.zip.ckpt"), out("views.stored.zip.ckpt"), zipfile.ZIP_STORED)
    save_legacy(wing_obj(), out("wing.legacy.ckpt"))
    save_legacy({"generator": Evil()}, out("evil_global.legacy.ckpt"))
    torch.save({"generator": Evil()}, out("evil_global.zip.ckpt"))
    os.makedirs(CORPUS, exist_ok=True)
    for name in ("views.legacy.ckpt", "views.zip.ckpt", "views.deflate.zip.ckpt",
                 "wing.legacy.ckpt", "evil_global.legacy.ckpt"):
        shutil.copy(out(name), os.path.join(CORPUS, name))


if __name__ == "__main__":
    main()
