#!/usr/bin/python3
"""The table at the end of bench/compare.sh: per network, each peer's median over the rounds
(with the range), then ours/peer ratios taken within each round (median over rounds, range),
beside the issue's targets (which are for the AFHQ generator at 256²).
usage: bench/compare_table.py LOG   (lines "ROUND PEER NET MS", "na PEER WHY", "check NET E R")"""
import sys
from collections import defaultdict

PEERS = [('stargan', 'stargan fp32'), ('stargan-bf16', 'stargan bf16'), ('pytorch', 'PyTorch fp32'),
         ('pytorch-bf16', 'PyTorch bf16'), ('ort', 'ORT fp32')]
NETS = [('generator', 'generator'), ('style_encoder', 'style encoder'), ('fan', 'FAN'),
        ('request', 'whole request')]
RATIOS = [('stargan', 'pytorch', 'fp32 / PyTorch fp32', 0.30),
          ('stargan', 'ort', 'fp32 / ORT fp32', 0.40),
          ('stargan-bf16', 'pytorch-bf16', 'bf16 / PyTorch bf16', None)]


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def fmt(v, digits=1):
    if not v:
        return None
    m = median(v)
    if len(v) == 1:
        return f'{m:.{digits}f}'
    return f'{m:.{digits}f} ({min(v):.{digits}f}–{max(v):.{digits}f})'


def main():
    ms = defaultdict(dict)          # (peer, net) -> {round: ms}
    na, checks, sgemm, flags, model = {}, {}, [], '', ''
    for line in open(sys.argv[1]):
        f = line.split()
        if not f:
            continue
        if f[0] == 'na':
            na[f[1]] = ' '.join(f[2:])
        elif f[0] == 'check':
            checks[f[1]] = (f[2], f[3])
        elif f[0] == 'cpu':
            flags = ' '.join(f[1:])
        elif f[0] == 'model':
            model = ' '.join(f[1:])
        elif f[1] == 'sgemm':
            sgemm.append(float(f[3]))
        else:
            ms[(f[1], f[2])][int(f[0])] = float(f[3])
    present = [p for p, _ in PEERS if p in na or any(k[0] == p for k in ms)]
    print(f'{model}; cpu flags: {flags}' + (f'; stargan sgemm {fmt(sgemm)} GFLOP/s' if sgemm else ''))
    print('ms, median over rounds (range):')
    w = 26
    print(f'{"network":<15}' + ''.join(f'{lbl:>{w}}' for p, lbl in PEERS if p in present))
    for net, lbl in NETS:
        cells = []
        for p, _ in PEERS:
            if p not in present:
                continue
            v = list(ms.get((p, net), {}).values())
            cells.append(fmt(v) or ('n/a' if p in na or net != 'request' else '–'))
        if any(c not in ('n/a', '–') for c in cells):
            print(f'{lbl:<15}' + ''.join(f'{c:>{w}}' for c in cells))
    print('\nours / peer, ratio within each round: median over rounds (range)')
    amx = 'amx_bf16' in flags
    for net, lbl in NETS:
        for a, b, what, target in RATIOS:
            if a not in present or b not in present:
                continue
            A, B = ms.get((a, net), {}), ms.get((b, net), {})
            r = [A[k] / B[k] for k in A if k in B and B[k] > 0]
            if not B:             # the peer has no such figure (ORT: no whole request)
                continue
            if a == 'stargan-bf16' and not A:
                cell = 'pending' if a in na else 'n/a'
            else:
                cell = fmt(r, 2) or 'n/a'
            if net == 'generator' and a == 'stargan-bf16':
                target = 0.33 if amx else 0.6
            tgt = f'   target ≤ {target:.2f} (AFHQ generator 256²)' if net == 'generator' and target else ''
            print(f'{lbl:<15}{what:<22}{cell}{tgt}')
    for net, (e, r) in checks.items():
        print(f'ORT vs PyTorch fp32 output, {net}: max_abs {e} (max |out| {r})')
    for p, why in na.items():
        print(f'{p}: n/a: {why}')


if __name__ == '__main__':
    main()
