#!/usr/bin/python3
"""PyTorch side of the speed comparison: times the reference networks (shared/tools/refimpl) on one
image with the same thread count as the C build (the FAN too when the model holds fan.* tensors),
printing lines in the format of `stargan bench`. Developer tool only (Debian's python3-torch,
python3-pil for --src/--ref); the service and its tests never use it.

usage: bench/pytorch_bench.py --model M.safetensors [--runs 5] [--threads 2]
         [--precision fp32|bf16] [--src IMG --ref IMG] [--ops torch|ref]
         [--refimpl ../shared/tools/refimpl]
       bench/pytorch_bench.py --model M.safetensors --export-onnx DIR
  --precision bf16   the networks under torch.autocast('cpu', dtype=torch.bfloat16), as a
                     PyTorch user would run them in bf16 (weights stay float32; autocast casts
                     them per op, as it does for any nn.Module)
  --src/--ref        also time a whole reference-guided request: decode and resize both photos
                     (Pillow), FAN masks (w_hpf models), style encoder, generator, 8-bit output,
                     PNG encode (request_ms=, with its stages, as `stargan bench` prints it)
  --ops torch        (default) the refimpl's networks with its spelled-out norms and resizes
                     replaced by the torch.nn.functional ops the official StarGAN v2 code uses
                     (F.instance_norm, F.batch_norm, F.interpolate): the same arithmetic, the
                     way a PyTorch model runs; --ops ref keeps the refimpl's own
  --export-onnx DIR  write DIR/<net>.onnx (torch.onnx.export, opset 13, float32) for the
                     generator, style encoder and FAN, with their inputs and PyTorch fp32 outputs
                     (raw little-endian float32) and DIR/manifest.json, for bench/ort/run.js
"""
import argparse
import io
import json
import math
import os
import sys
import time


def use_torch_ops(ref, F):
    """The refimpl spells out instance norm, batch norm, nearest ×2 and bilinear resizes for
    readability; a PyTorch model calls the library's fused ops. Same arithmetic (eps 1e-5,
    biased variance, PyTorch's bilinear source coordinates), so the outputs agree to rounding."""
    def instance_norm(x, weight=None, bias=None):
        return F.instance_norm(x, weight=weight, bias=bias, eps=1e-5)

    def batch_norm(x, W, p):
        return F.batch_norm(x, W[f'{p}.running_mean'], W[f'{p}.running_var'], W[f'{p}.weight'],
                            W[f'{p}.bias'], False, 0.0, 1e-5)

    ref.instance_norm = instance_norm
    ref.batch_norm = batch_norm
    ref.upsample2 = lambda x: F.interpolate(x, scale_factor=2, mode='nearest')
    ref.resize_bilinear = lambda x, h, w, align_corners: F.interpolate(
        x, size=(h, w), mode='bilinear', align_corners=align_corners)


def setup(a):
    sys.path.insert(0, a.refimpl)
    import torch
    import torch.nn.functional as F
    import stargan_ref as ref
    if a.ops == 'torch':
        use_torch_ops(ref, F)
    torch.set_num_threads(a.threads)
    return torch, ref


def inputs(torch, cfg):
    """Random inputs of the bench shapes: x [1, 3, S, S] in [-1, 1], z [1, latent], y = 0,
    masks [1, 1, 256, 256] of 0.5 (w_hpf models)."""
    S = cfg['img_size']
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, S, S, generator=g) * 2 - 1
    z = torch.randn(1, cfg['latent_dim'], generator=g)
    y = torch.zeros(1, dtype=torch.int64)
    masks = None
    if cfg['w_hpf'] > 0:
        m = torch.full((1, 1, 256, 256), 0.5)
        masks = (m, m)
    return x, z, y, masks


def precision_ctx(torch, precision):
    if precision == 'bf16':
        return torch.autocast('cpu', dtype=torch.bfloat16)
    return torch.autocast('cpu', enabled=False)


def median(t):
    t = sorted(t)
    n = len(t)
    return t[n // 2] if n % 2 else 0.5 * (t[n // 2 - 1] + t[n // 2])


def request(torch, ref, W, cfg, src, ref_photo, precision):
    """One reference-guided request as a PyTorch service would run it -> stage times (ms)."""
    from PIL import Image
    S = cfg['img_size']
    t = {}
    t0 = time.perf_counter()
    xs = ref.preprocess(src, S).float()                                    # [1, 3, S, S]
    xr = ref.preprocess(ref_photo, S).float()
    t1 = time.perf_counter()
    t['decode'] = (t1 - t0) * 1e3
    y = torch.tensor([1 % cfg['num_domains']])
    with precision_ctx(torch, precision):
        s = ref.style_encoder(xr, y, W, cfg).float()
    t2 = time.perf_counter()
    t['style'] = (t2 - t1) * 1e3
    masks = None
    if cfg['w_hpf'] > 0:
        with precision_ctx(torch, precision):
            hm = ref.fan(xs, W)
        masks = ref.masks_from_heatmaps(hm.float())                        # in float32
    t3 = time.perf_counter()
    t['faces'] = (t3 - t2) * 1e3
    with precision_ctx(torch, precision):
        out = ref.generator(xs, s, W, cfg, masks=masks).float()
    t4 = time.perf_counter()
    t['generator'] = (t4 - t3) * 1e3
    img = Image.fromarray(ref.to_bytes(out)[0].numpy())
    img.save(io.BytesIO(), format='PNG')
    t5 = time.perf_counter()
    t['encode'] = (t5 - t4) * 1e3
    t['total'] = (t5 - t0) * 1e3
    return t


def export_onnx(torch, ref, W, cfg, out_dir):
    """Each network traced with the bench inputs and exported (opset 13), plus its inputs and
    PyTorch fp32 output for the ONNX Runtime side to check against."""
    import warnings
    warnings.filterwarnings('ignore')   # the tracer's notes on Python control flow: shapes are fixed
    os.makedirs(out_dir, exist_ok=True)
    F = torch.nn.functional

    def conv(x, weight, bias=None, stride=1, pad=None):
        # the refimpl's, with the padding a Python int: the tracer turns shape arithmetic into
        # tensors, which F.conv2d's padding does not take
        k = int(weight.shape[-1])
        return F.conv2d(x, weight, bias, stride=stride, padding=(k - 1) // 2 if pad is None else pad)

    ref.conv = conv

    def generator(x, s, *m):
        # ref.generator's wiring with the sides as Python ints (it keys the encoder skips by
        # x.shape[2], which the tracer makes a tensor); the blocks are the refimpl's own, and the
        # ORT side checks the exported graph against ref.generator's output
        S, w_hpf, g = cfg['img_size'], cfg['w_hpf'], 'generator'
        n_down = int(round(math.log2(S))) - 4 + (1 if w_hpf > 0 else 0)
        h = ref.conv(x, W[f'{g}.from_rgb.weight'], W[f'{g}.from_rgb.bias'])
        side, remembered = S, {}
        for i in range(n_down + 2):
            if m and side in (32, 64, 128):
                remembered[side] = h
            h = ref.res_blk(h, W, f'{g}.encode.{i}', normalize=True, downsample=i < n_down)
            side //= 2 if i < n_down else 1
        for j in range(n_down + 2):
            h = ref.adain_res_blk(h, s, W, f'{g}.decode.{j}', w_hpf, upsample=j >= 2)
            side *= 2 if j >= 2 else 1
            if m and side in (32, 64, 128):
                mk = ref.resize_bilinear(m[0] if side == 32 else m[1], side, side, False)
                h = h + ref.high_pass(mk * remembered[side], w_hpf)
        h = ref.instance_norm(h, W[f'{g}.to_rgb.0.weight'], W[f'{g}.to_rgb.0.bias'])
        return ref.conv(ref.lrelu(h), W[f'{g}.to_rgb.2.weight'], W[f'{g}.to_rgb.2.bias'], pad=0)

    x, z, y, masks = inputs(torch, cfg)
    with torch.no_grad():
        s = ref.mapping(z, y, W, cfg)
    nets = {'generator': (generator, [('x', x), ('s', s)] + ([('mask_0', masks[0]), ('mask_1', masks[1])]
                                                  if masks else [])),
            'style_encoder': (lambda x: ref.style_encoder(x, y, W, cfg), [('x', x)])}
    if any(k.startswith('fan.') for k in W):
        nets['fan'] = (lambda x: ref.fan(x, W), [('x', x)])

    class Net(torch.nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, *args):
            return self.fn(*args)

    manifest = {}
    for name, (fn, ins) in nets.items():
        args = tuple(t for _, t in ins)
        with torch.no_grad():
            if name == 'generator':   # the reference output comes from ref.generator itself
                out = ref.generator(x, s, W, cfg, masks=masks)
            else:
                out = fn(*args)
            torch.onnx.export(Net(fn), args, os.path.join(out_dir, f'{name}.onnx'),
                              opset_version=13, input_names=[n for n, _ in ins],
                              output_names=['out'], do_constant_folding=True)
        entry = {'model': f'{name}.onnx', 'inputs': [], 'output': None}
        for n, t in ins + [('out', out)]:
            f = f'{name}.{n}.f32'
            t.detach().float().contiguous().numpy().astype('<f4').tofile(os.path.join(out_dir, f))
            e = {'name': n, 'shape': list(t.shape), 'file': f}
            if n == 'out':
                entry['output'] = e
            else:
                entry['inputs'].append(e)
        manifest[name] = entry
        print(f'exported {name} to {out_dir}/{name}.onnx', flush=True)
    with open(os.path.join(out_dir, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser()
    p.add_argument('--model', required=True)
    p.add_argument('--runs', type=int, default=5)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--precision', choices=('fp32', 'bf16'), default='fp32')
    p.add_argument('--ops', choices=('torch', 'ref'), default='torch')
    p.add_argument('--src')
    p.add_argument('--ref')
    p.add_argument('--export-onnx', metavar='DIR')
    p.add_argument('--refimpl', default=os.path.join(here, '..', '..', 'shared', 'tools', 'refimpl'))
    a = p.parse_args()
    torch, ref = setup(a)
    W, _ = ref.load_model(a.model, dtype=torch.float32)
    cfg = ref.infer_config(W)
    if a.export_onnx:
        export_onnx(torch, ref, W, cfg, a.export_onnx)
        return
    x, z, y, masks = inputs(torch, cfg)
    s = ref.mapping(z, y, W, cfg)
    nets = [('generator', lambda: ref.generator(x, s, W, cfg, masks=masks)),
            ('style_encoder', lambda: ref.style_encoder(x, y, W, cfg)),
            ('mapping_network', lambda: ref.mapping(z, y, W, cfg))]
    if any(k.startswith('fan.') for k in W):      # the face network (input resized to 256²)
        nets.append(('fan', lambda: ref.fan(x, W)))
    tag = f'threads={a.threads} precision={a.precision} ops={a.ops} torch={torch.__version__}'
    with torch.no_grad():
        for name, fn in nets:
            with precision_ctx(torch, a.precision):
                fn()
                t = []
                for _ in range(a.runs):
                    t0 = time.perf_counter()
                    fn()
                    t.append((time.perf_counter() - t0) * 1e3)
            print(f'pytorch {name} median_ms={median(t):.2f} {tag}', flush=True)
        if a.src and a.ref:
            request(torch, ref, W, cfg, a.src, a.ref, a.precision)        # warm-up
            runs = [request(torch, ref, W, cfg, a.src, a.ref, a.precision) for _ in range(a.runs)]
            runs.sort(key=lambda r: r['total'])
            m = runs[len(runs) // 2]
            print(f'pytorch request_ms={median([r["total"] for r in runs]):.2f} '
                  + ' '.join(f'{k}={m[k]:.1f}' for k in ('decode', 'style', 'faces', 'generator',
                                                          'encode'))
                  + f' {tag}', flush=True)


if __name__ == '__main__':
    main()
