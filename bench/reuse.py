"""bench/reuse.sh's measurements: two stargan-server binaries, alternated round by round.

Each round starts each server fresh (demo model, 2 workers, access log off), warms it up with
one translation of an unrelated photo, then times: a 24-frame /v1/interpolate of the photo, a
one-photo x 8-seed /v1/grid, 8 concurrent clients each posting PER_CLIENT distinct photos (the
photo with an 8x8 block painted: a different image to the server) with random seeds, and 8 clients
posting the photo itself with random seeds, then one client posting 12 distinct photos one at a
time (low load: its p99 and median). Peak RSS (VmHWM) is read before the server stops.
"""
import argparse
import http.client
import random
import statistics
import struct
import subprocess
import threading
import time
import zlib

PER_CLIENT = 6
CLIENTS = 8


def read_ppm(path):
    d = open(path, 'rb').read()
    parts = d.split(maxsplit=4)
    w, h = int(parts[1]), int(parts[2])
    return w, h, bytearray(parts[4][-w * h * 3:])


def png(w, h, rgb):
    raw = b''.join(b'\0' + bytes(rgb[y * w * 3:(y + 1) * w * 3]) for y in range(h))
    c = lambda t, b: struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b))
    return (b'\x89PNG\r\n\x1a\n' + c(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) +
            c(b'IDAT', zlib.compress(raw, 1)) + c(b'IEND', b''))


def variant(w, h, rgb, k):
    """the photo with an 8x8 block painted in a colour of k's: another image, also once resized
    to img_size (the cost cache keys the square the networks see)"""
    v = bytearray(rgb)
    x0, y0 = 8 * (k % (w // 8)), 8 * ((k // (w // 8)) % (h // 8))
    col = bytes(((k * 37) % 256, (k * 91) % 256, (k * 53 + 128) % 256))
    for y in range(y0, y0 + 8):
        for x in range(x0, x0 + 8):
            v[(y * w + x) * 3:(y * w + x) * 3 + 3] = col
    return png(w, h, v)


def form(fields):
    b = b'----sgbench'
    out = b''
    for name, value in fields:
        out += b'--' + b + b'\r\n'
        if isinstance(value, bytes):
            out += (b'Content-Disposition: form-data; name="%s"; filename="p.png"\r\n'
                    b'Content-Type: image/png\r\n\r\n' % name.encode()) + value + b'\r\n'
        else:
            out += b'Content-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (
                name.encode(), str(value).encode())
    out += b'--' + b + b'--\r\n'
    return out, 'multipart/form-data; boundary=' + b.decode()


def post(port, path, fields):
    body, ctype = form(fields)
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=600)
    t0 = time.perf_counter()
    c.request('POST', path, body, {'Content-Type': ctype})
    r = c.getresponse()
    data = r.read()
    ms = (time.perf_counter() - t0) * 1000
    c.close()
    if r.status != 200:
        raise SystemExit(f'{path}: {r.status} {data[:200]!r}')
    return ms


class Server:
    def __init__(self, binary, extra):
        self.p = subprocess.Popen([binary, '--listen', '127.0.0.1:0', '--workers', '2',
                                   '--access-log', 'off'] + extra, stderr=subprocess.PIPE, text=True)
        self.port = None
        for line in self.p.stderr:
            if 'listening on http://' in line:
                self.port = int(line.split('listening on http://')[1].split('/')[0].split(':')[1])
            if 'ready:' in line:
                break
        threading.Thread(target=lambda: [None for _ in self.p.stderr], daemon=True).start()

    def hwm_mb(self):
        for line in open(f'/proc/{self.p.pid}/status'):
            if line.startswith('VmHWM'):
                return int(line.split()[1]) / 1024

    def stop(self):
        self.p.terminate()
        self.p.wait()


def clients(port, photos, n=CLIENTS):
    """n threads, each posting its photos in turn; (images/s, p99 ms, median ms)"""
    lat, lock = [], threading.Lock()

    def run(mine):
        for p in mine:
            ms = post(port, '/v1/translate', [('image', p), ('domain', 'dog'),
                                              ('seed', random.randrange(1 << 40))])
            with lock:
                lat.append(ms)
    per = [photos[i::n] for i in range(n)]
    t0 = time.perf_counter()
    ts = [threading.Thread(target=run, args=(m,)) for m in per]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    return len(lat) / wall, lat[min(len(lat) - 1, int(0.99 * len(lat)))], statistics.median(lat)


def round_of(binary, extra, w, h, rgb, base_png, k0):
    s = Server(binary, extra)
    post(s.port, '/v1/translate', [('image', variant(w, h, rgb, 999999)), ('domain', 'cat'),
                                   ('seed', 1)])
    r = {}
    r['interpolate24_ms'] = post(s.port, '/v1/interpolate', [('image', base_png), ('domain', 'dog'),
                                                             ('seed', 1), ('seed', 2), ('frames', 24)])
    r['grid8_ms'] = post(s.port, '/v1/grid', [('image', base_png), ('domain', 'dog')] +
                         [('seed', k) for k in range(1, 9)])
    distinct = [variant(w, h, rgb, k0 + k) for k in range(CLIENTS * PER_CLIENT)]
    r['distinct_ips'], r['distinct_p99_ms'], _ = clients(s.port, distinct)
    r['same_ips'], r['same_p99_ms'], _ = clients(s.port, [base_png] * (CLIENTS * PER_CLIENT))
    # low load: one client, one request at a time (distinct photos, random seeds)
    lone = [variant(w, h, rgb, k0 + 500 + k) for k in range(2 * PER_CLIENT)]
    _, r['lone_p99_ms'], r['lone_median_ms'] = clients(s.port, lone, 1)
    r['peak_rss_mb'] = s.hwm_mb()
    s.stop()
    return r


def main():
    a = argparse.ArgumentParser()
    a.add_argument('--rounds', type=int, default=3)
    a.add_argument('--photo', required=True)
    a.add_argument('--base', required=True)
    a.add_argument('--new', required=True)
    a.add_argument('--base-args', default='', help="more flags for the baseline's server")
    a.add_argument('--new-args', default='', help="more flags for this build's server")
    o = a.parse_args()
    extra = {'base': o.base_args.split(), 'new': o.new_args.split()}
    w, h, rgb = read_ppm(o.photo)
    base_png = png(w, h, rgb)
    res = {'base': [], 'new': []}
    for i in range(o.rounds):
        order = [('base', o.base), ('new', o.new)] if i % 2 == 0 else [('new', o.new), ('base', o.base)]
        for name, binary in order:
            r = round_of(binary, extra[name], w, h, rgb, base_png, 1000 * (2 * i + (name == 'new')))
            res[name].append(r)
            print(f'round {i + 1} {name:4s} ' + ' '.join(f'{k}={v:.1f}' for k, v in r.items()), flush=True)
    med = {n: {k: statistics.median(r[k] for r in res[n]) for k in res[n][0]} for n in res}
    print(f'medians over {o.rounds} rounds (this build / baseline):')
    goals = {'interpolate24_ms': '<= 0.55', 'grid8_ms': '<= 0.55', 'distinct_ips': '>= 1.2',
             'distinct_p99_ms': '<= 1.1', 'same_ips': '>= 1.5', 'same_p99_ms': '',
             'lone_p99_ms': '',
             'lone_median_ms': '',
             'peak_rss_mb': ''}
    for k in med['new']:
        b, n = med['base'][k], med['new'][k]
        print(f'  {k:18s} baseline {b:9.1f}  this {n:9.1f}  ratio {n / b:.3f}  {goals[k] and "(target " + goals[k] + ")"}')


if __name__ == '__main__':
    main()
