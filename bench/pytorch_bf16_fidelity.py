#!/usr/bin/python3
"""How far PyTorch's bf16 autocast lands from the float64 truth of the parity fixtures: the
fixture photos (x_src, x_ref) and spec-v1 weights, each network fed the fixture's own inputs
(as `stargan selftest` does), the generator outputs compared as 8-bit images.

Per fixture output, in the form `stargan selftest --precision bf16` prints:
  out_latent psnr=<dB> mean_levels=<x> max_levels=<n>     (the 8-bit images, both samples)
  s_ref max_abs=<e> mean_abs=<e> max_ref=<e>                (style codes, FAN heatmaps: floats)
With --per-sample, also out_ref[0], out_ref[1] ... one line per image. With several fixtures,
a line `== <fixture file>` comes before each one's lines.

8-bit output: byte = floor(clamp((x + 1)/2, 0, 1)·255 + 0.5) (the refimpl's to_bytes, as the
service encodes); PSNR = 10·log10(255² / mean squared level difference) over every byte.

Developer tool only (Debian's python3-torch); never part of the test suite.
usage: bench/pytorch_bf16_fidelity.py [FIXTURE.io.safetensors ...] [--precision bf16|fp32]
         [--ops torch|ref] [--per-sample] [--threads 2] [--refimpl DIR]
  default fixtures: afhq and celeba_hq in ../shared/fixtures; --precision fp32 gives PyTorch's
  float32 figures for the same comparison; --ops as in bench/pytorch_bench.py (default: the
  torch.nn.functional norms and resizes a PyTorch model uses).
"""
import argparse
import math
import os
import sys


def image_line(name, ours, truth, to_bytes):
    a = to_bytes(ours).double()
    b = to_bytes(truth).double()
    d = (a - b).abs()
    mse = float((d * d).mean())
    psnr = float('inf') if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)
    return f'{name} psnr={psnr:.2f} mean_levels={float(d.mean()):.3f} max_levels={int(d.max())}'


def float_line(name, ours, truth):
    d = (ours.double() - truth.double()).abs()
    return (f'{name} max_abs={float(d.max()):.3g} mean_abs={float(d.mean()):.3g} '
            f'max_ref={float(truth.abs().max()):.3g}')


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    fixtures = os.path.join(here, '..', '..', 'shared', 'fixtures')
    p = argparse.ArgumentParser()
    p.add_argument('fixtures', nargs='*')
    p.add_argument('--precision', choices=('bf16', 'fp32'), default='bf16')
    p.add_argument('--ops', choices=('torch', 'ref'), default='torch')
    p.add_argument('--per-sample', action='store_true')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--refimpl', default=os.path.join(here, '..', '..', 'shared', 'tools', 'refimpl'))
    a = p.parse_args()
    paths = a.fixtures or [os.path.join(fixtures, f'{c}.io.safetensors') for c in ('afhq', 'celeba_hq')]
    sys.path.insert(0, a.refimpl)
    sys.path.insert(0, here)
    import torch
    import stargan_ref as ref
    from pytorch_bench import use_torch_ops, precision_ctx
    if a.ops == 'torch':
        use_torch_ops(ref, torch.nn.functional)
    torch.set_num_threads(a.threads)

    class Args:          # what the refimpl's weight lookup reads from its own command line
        model = None
        names = None

    for path in paths:
        T, cfg, _ = ref.load_fixture(path)
        W, _ = ref._weights_for(Args, path, cfg, torch.float32)
        if len(paths) > 1:
            print(f'== {os.path.basename(path)}', flush=True)
        x = lambda k: T[k].float()
        masks = (x('mask_0'), x('mask_1')) if cfg['w_hpf'] > 0 else None
        lines = []
        with torch.no_grad(), precision_ctx(torch, a.precision):
            if 'fan.conv1.conv.weight' in W and 'fan_heatmaps' in T:
                lines.append(float_line('fan_heatmaps', ref.fan(x('x_src'), W).float(),
                                        T['fan_heatmaps']))
            lines.append(float_line('s_latent', ref.mapping(x('z'), T['y_trg'], W, cfg).float(),
                                    T['s_latent']))
            lines.append(float_line('s_ref', ref.style_encoder(x('x_ref'), T['y_ref'], W, cfg).float(),
                                    T['s_ref']))
            for name, s in (('out_latent', 's_latent'), ('out_ref', 's_ref')):
                out = ref.generator(x('x_src'), x(s), W, cfg, masks=masks).float()
                lines.append(image_line(name, out, T[name], ref.to_bytes))
                if a.per_sample:
                    for k in range(out.shape[0]):
                        lines.append(image_line(f'{name}[{k}]', out[k:k + 1], T[name][k:k + 1],
                                                ref.to_bytes))
        for line in lines:
            print(line, flush=True)


if __name__ == '__main__':
    main()
