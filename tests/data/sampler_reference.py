#!/usr/bin/env python3
"""Independent implementation of the latent sampler documented in styles/sample.c, used to pin
its first values in tests/test_styles.c."""
import math
import struct
import sys

M = (1 << 64) - 1


def sample(seed, n):
    state, out = seed, []
    def nxt():
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & M
        t = state
        t = ((t ^ (t >> 30)) * 0xBF58476D1CE4E5B9) & M
        t = ((t ^ (t >> 27)) * 0x94D049BB133111EB) & M
        return t ^ (t >> 31)
    while len(out) < n:
        u1 = ((nxt() >> 11) + 0.5) / 2.0 ** 53
        u2 = ((nxt() >> 11) + 0.5) / 2.0 ** 53
        r = math.sqrt(-2 * math.log(u1))
        out += [r * math.cos(2 * math.pi * u2), r * math.sin(2 * math.pi * u2)]
    return [struct.unpack('<f', struct.pack('<f', v))[0] for v in out[:n]]


if __name__ == '__main__':
    print(sample(int(sys.argv[1]) if len(sys.argv) > 1 else 42, 4))
