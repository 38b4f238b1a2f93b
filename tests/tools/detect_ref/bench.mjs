// Peer timing for the face detector: face-api.js ssdMobilenetv1 on the tfjs wasm backend.
//   node bench.mjs MODEL_DIR IMAGE.ppm [--runs N] [--warmup W] [--min-score S] [--no-simd]
// Prints one line of JSON: median and min milliseconds over N runs (after W warm-up runs) of
//   locate_ms:     ssdMobilenetv1.locateFaces(tensor3d of the photo) whole: pad to a square,
//                  resizeBilinear to 512x512, the network, decode, face-api's NMS, box scaling
//   net_ms:        the network alone: forwardInput on an input already 512x512x3 (no pad, no
//                  resize: toBatchTensor passes it through; x/127.5-1 included), outputs read
//   preprocess_ms: toBatchTensor(512) of the photo alone (pad, resize; read back)
// and the wasm backend's features (SIMD, threads). The photo's tensor is made once, untimed.
// tfjs-backend-wasm 4.22 in node: SIMD yes (--no-simd: the plain binary), threads no: it reports
// WASM_HAS_MULTITHREAD_SUPPORT false under node (tfjs issue #3830); forcing it true fails to start
// the backend (its workers come from blob: URLs, which node's Worker refuses), so 1 thread.
import { performance } from 'node:perf_hooks';
import { loadFaceapi, readPpm, imageTensor } from './common.mjs';

const args = process.argv.slice(2);
const pos = [];
let runs = 20;
let warmup = 3;
let minScore = 0.5;
let simd = true;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--runs') runs = Number(args[++i]);
  else if (args[i] === '--warmup') warmup = Number(args[++i]);
  else if (args[i] === '--min-score') minScore = Number(args[++i]);
  else if (args[i] === '--no-simd') simd = false;
  else pos.push(args[i]);
}
if (pos.length !== 2 || !(runs >= 1) || !(warmup >= 0)) {
  process.stderr.write('usage: node bench.mjs MODEL_DIR IMAGE.ppm [--runs N] [--warmup W] [--min-score S] [--no-simd]\n');
  process.exit(2);
}
const [modelDir, ppmPath] = pos;
const { faceapi, tf, info } = await loadFaceapi(modelDir, { simd });
process.stderr.write(`bench.mjs: backend ${tf.getBackend()} (simd ${info.simd}, threads ${info.threads})\n`);
const net = faceapi.nets.ssdMobilenetv1;
const img = readPpm(ppmPath);
const photo = imageTensor(tf, img);
const square = tf.randomUniform([512, 512, 3], 0, 256, 'int32', 1);

async function time(fn) {
  for (let i = 0; i < warmup; i++) await fn();
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const med = runs % 2 ? ms[(runs - 1) / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2;
  return { median: Number(med.toFixed(2)), min: Number(ms[0].toFixed(2)) };
}

let faces = 0;
const locate = await time(async () => {
  faces = (await net.locateFaces(photo, { minConfidence: minScore })).length;
});
const netOnly = await time(async () => {
  const ni = await faceapi.toNetInput(square);
  const { boxes, scores } = net.forwardInput(ni);
  boxes[0].dataSync();
  scores[0].dataSync();
  tf.dispose([boxes, scores]);
});
const pre = await time(async () => {
  const ni = await faceapi.toNetInput(photo);
  const t = ni.toBatchTensor(512, false);
  t.dataSync();
  t.dispose();
});
tf.dispose([photo, square]);
console.log(JSON.stringify({
  image: `${img.width}x${img.height}`,
  faces,
  runs,
  warmup,
  locate_ms: locate,
  net_ms: netOnly,
  preprocess_ms: pre,
  backend: info.backend,
  simd: info.simd,
  multithread: info.multithread,
  threads: info.threads,
  faceapi: info.faceapi,
  tfjs: info.tfjs,
  node: info.node,
}));
