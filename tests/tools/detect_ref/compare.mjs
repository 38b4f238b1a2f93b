// node compare.mjs A.json B.json [--iou 0.95] [--score 0.01]
// Two detection documents (ref.mjs's schema: {"faces":[{"box":[x,y,w,h],"score":s}]}) agree when
// they hold the same number of faces and each face of A has a face of B (each used once, greedy
// by IoU) with IoU >= --iou and |score difference| <= --score. Prints one line per face; exit 0
// when they agree, 1 when not, 2 for a usage error.
import fs from 'node:fs';

const args = process.argv.slice(2);
const files = [];
let minIou = 0.95;
let maxDs = 0.01;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--iou') minIou = Number(args[++i]);
  else if (args[i] === '--score') maxDs = Number(args[++i]);
  else files.push(args[i]);
}
if (files.length !== 2 || !(minIou > 0) || !(maxDs >= 0)) {
  process.stderr.write('usage: node compare.mjs A.json B.json [--iou 0.95] [--score 0.01]\n');
  process.exit(2);
}
const [a, b] = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')).faces);

export function iou(p, q) {
  const ix = Math.max(0, Math.min(p[0] + p[2], q[0] + q[2]) - Math.max(p[0], q[0]));
  const iy = Math.max(0, Math.min(p[1] + p[3], q[1] + q[3]) - Math.max(p[1], q[1]));
  const inter = ix * iy;
  const union = p[2] * p[3] + q[2] * q[3] - inter;
  return union > 0 ? inter / union : 0;
}

let ok = a.length === b.length;
console.log(`faces ${a.length} vs ${b.length}${ok ? '' : ' DIFFER'}`);
const used = new Set();
for (const f of a) {
  let best = -1;
  let bestIou = 0;
  b.forEach((g, j) => {
    const v = iou(f.box, g.box);
    if (!used.has(j) && v > bestIou) { best = j; bestIou = v; }
  });
  if (best < 0) {
    console.log(`score ${f.score} box ${f.box.join(',')}: no match`);
    ok = false;
    continue;
  }
  used.add(best);
  const ds = Math.abs(f.score - b[best].score);
  const good = bestIou >= minIou && ds <= maxDs;
  ok &&= good;
  console.log(`score ${f.score} vs ${b[best].score} (|d| ${ds.toExponential(2)}) iou ${bestIou.toFixed(5)} ${good ? 'ok' : 'FAIL'}`);
}
process.exit(ok ? 0 : 1);
