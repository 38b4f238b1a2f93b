#!/usr/bin/python3
"""PyTorch side of the speed comparison: times the reference networks (shared/tools/refimpl,
plain torch.nn.functional ops, float32) on one image with the same thread count as the C build
(the FAN too when the model holds fan.* tensors),
printing lines in the format of `stargan bench`. Developer tool only (needs Debian's
python3-torch); the service and its tests never use it.

usage: bench/pytorch_bench.py --model M.safetensors [--runs 5] [--threads 2]
       [--refimpl ../shared/tools/refimpl]"""
import argparse
import os
import sys
import time


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser()
    p.add_argument('--model', required=True)
    p.add_argument('--runs', type=int, default=5)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--refimpl', default=os.path.join(here, '..', '..', 'shared', 'tools', 'refimpl'))
    a = p.parse_args()
    sys.path.insert(0, a.refimpl)
    import torch
    import stargan_ref as ref
    torch.set_num_threads(a.threads)
    W, _ = ref.load_model(a.model, dtype=torch.float32)
    cfg = ref.infer_config(W)
    S = cfg['img_size']
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, S, S, generator=g) * 2 - 1
    z = torch.randn(1, cfg['latent_dim'], generator=g)
    y = torch.zeros(1, dtype=torch.int64)
    masks = None
    if cfg['w_hpf'] > 0:
        m = torch.full((1, 1, 256, 256), 0.5)
        masks = (m, m)
    s = ref.mapping(z, y, W, cfg)
    nets = [('generator', lambda: ref.generator(x, s, W, cfg, masks=masks)),
            ('style_encoder', lambda: ref.style_encoder(x, y, W, cfg)),
            ('mapping_network', lambda: ref.mapping(z, y, W, cfg))]
    if any(k.startswith('fan.') for k in W):      # the face network (input resized to 256²)
        nets.append(('fan', lambda: ref.fan(x, W)))
    with torch.no_grad():
        for name, fn in nets:
            fn()
            t = []
            for _ in range(a.runs):
                t0 = time.perf_counter()
                fn()
                t.append((time.perf_counter() - t0) * 1e3)
            t.sort()
            print(f'pytorch {name} median_ms={t[len(t) // 2]:.2f} threads={a.threads} torch={torch.__version__}')


if __name__ == '__main__':
    main()
