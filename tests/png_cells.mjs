// Compares cells of a grid PNG with whole PNGs, pixel for pixel (node built-ins only).
// usage: node png_cells.mjs GRID.png X Y CELL.png [X Y CELL.png ...]
// Exit 0 when every CELL.png equals the region of GRID.png at (X, Y) of CELL's size.
// Decodes 8-bit RGB/RGBA non-interlaced PNGs (what stargan-server writes).
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';

function decode(path) {
  const b = readFileSync(path);
  let w, h, bpp, idat = [];
  for (let o = 8; o < b.length;) {
    const n = b.readUInt32BE(o), type = b.toString('latin1', o + 4, o + 8), d = b.subarray(o + 8, o + 8 + n);
    if (type === 'IHDR') {
      w = d.readUInt32BE(0); h = d.readUInt32BE(4);
      if (d[8] !== 8 || (d[9] !== 2 && d[9] !== 6) || d[12] !== 0) throw new Error(`${path}: unsupported PNG`);
      bpp = d[9] === 2 ? 3 : 4;
    } else if (type === 'IDAT') idat.push(d);
    o += 12 + n;
  }
  const raw = inflateSync(Buffer.concat(idat)), stride = w * bpp, px = Buffer.alloc(h * stride);
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)], line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? px[y * stride + x - bpp] : 0, up = y ? px[(y - 1) * stride + x] : 0;
      const c = x >= bpp && y ? px[(y - 1) * stride + x - bpp] : 0;
      let v = line[x];
      if (f === 1) v += a;
      else if (f === 2) v += up;
      else if (f === 3) v += (a + up) >> 1;
      else if (f === 4) { const p = a + up - c, pa = Math.abs(p - a), pb = Math.abs(p - up), pc = Math.abs(p - c); v += pa <= pb && pa <= pc ? a : pb <= pc ? up : c; }
      px[y * stride + x] = v & 255;
    }
  }
  return { w, h, bpp, px };
}

const [gridPath, ...rest] = process.argv.slice(2);
const g = decode(gridPath);
let bad = 0;
for (let i = 0; i + 2 < rest.length; i += 3) {
  const x0 = Number(rest[i]), y0 = Number(rest[i + 1]), c = decode(rest[i + 2]);
  let diff = 0;
  for (let y = 0; y < c.h; y++) for (let x = 0; x < c.w; x++) for (let k = 0; k < 3; k++)
    if (y0 + y >= g.h || x0 + x >= g.w || g.px[((y0 + y) * g.w + x0 + x) * g.bpp + k] !== c.px[(y * c.w + x) * c.bpp + k]) diff++;
  if (diff) { bad++; console.log(`cell at ${x0},${y0} (${rest[i + 2]}): ${diff} values differ`); }
}
process.exit(bad ? 1 : 0);
