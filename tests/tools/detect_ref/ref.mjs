// The face detector's reference: face-api.js ssdMobilenetv1 (@vladmandic/face-api 1.7.15) on the
// tfjs wasm backend, on the pixels of a binary PPM (build/image_ppm writes the photo as our own
// decoder sees it, EXIF applied).
//   node ref.mjs MODEL_DIR IMAGE.ppm [--min-score S] [--raw] [--source PHOTO [--source-name NAME]]
// prints one JSON document (schema in README.md): width, height, faces as
// ssdMobilenetv1.locateFaces(tensor3d, {minConfidence: S}) returns them (box [x, y, w, h] in the
// photo's pixels, in the order of its NMS: score descending), input_size (the reshaped dims
// [rw, rh]), with --raw the 5118 anchors' scores and decoded boxes from forwardInput, and what
// made it (versions, backend; with --source the photo's name (--source-name, else its file
// name) and sha256). Backend on stderr.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadFaceapi, readPpm, imageTensor } from './common.mjs';

const args = process.argv.slice(2);
const pos = [];
let minScore = 0.5; // face-api's default minConfidence
let raw = false;
let source = null;
let sourceName = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--min-score') minScore = Number(args[++i]);
  else if (args[i] === '--raw') raw = true;
  else if (args[i] === '--source') source = args[++i];
  else if (args[i] === '--source-name') sourceName = args[++i];
  else if (args[i].startsWith('--')) pos.length = 99;
  else pos.push(args[i]);
}
if (pos.length !== 2 || !(minScore > 0 && minScore < 1) || source === undefined) {
  process.stderr.write('usage: node ref.mjs MODEL_DIR IMAGE.ppm [--min-score S (0..1)] [--raw] [--source PHOTO [--source-name NAME]]\n');
  process.exit(2);
}
const [modelDir, ppmPath] = pos;

// 7 significant digits (float32 carries about 7.2)
const r7 = (v) => Number(v.toPrecision(7));
const sha256 = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

const { faceapi, tf, info } = await loadFaceapi(modelDir);
process.stderr.write(`ref.mjs: backend ${tf.getBackend()} (simd ${info.simd}, threads ${info.threads})\n`);
const net = faceapi.nets.ssdMobilenetv1;
const img = readPpm(ppmPath);
const input = imageTensor(tf, img);

const faces = await net.locateFaces(input, { minConfidence: minScore });
const out = {
  width: img.width,
  height: img.height,
  faces: faces.map((d) => ({ box: [d.box.x, d.box.y, d.box.width, d.box.height].map(r7), score: r7(d.score) })),
};

// the same forward pass as locateFaces does it (toNetInput, forwardInput), kept whole
const netInput = await faceapi.toNetInput(input);
const { boxes, scores } = net.forwardInput(netInput);
const dims = netInput.getReshapedInputDimensions(0);
out.input_size = [dims.width, dims.height];
if (raw) {
  out.raw = {
    scores: Array.from(scores[0].dataSync(), r7),
    boxes: boxes[0].arraySync().map((b) => b.map(r7)),
  };
}
tf.dispose([boxes, scores, input]);

out.min_score = minScore;
out.made_with = {
  ...info,
  call: `ssdMobilenetv1.locateFaces(tf.tensor3d(ppm pixels, [h, w, 3], 'int32'), {minConfidence: ${minScore}})`,
  model_sha256: sha256(path.join(modelDir, 'ssd_mobilenetv1_model.bin')),
  ppm_sha256: sha256(ppmPath),
};
if (source) out.source = { file: sourceName ?? path.basename(source), sha256: sha256(source) };

// one face or anchor box per line: readable diffs, still compact
const { raw: rawOut, faces: facesOut, ...rest } = out;
const head = JSON.stringify({ width: out.width, height: out.height });
const lines = [`${head.slice(0, -1)},"faces":[`];
if (facesOut.length) lines.push(`${facesOut.map((f) => JSON.stringify(f)).join(',\n')}],`);
else lines[0] += '],';
const tail = JSON.stringify({ ...rest, width: undefined, height: undefined }).slice(1, -1);
if (rawOut) {
  lines.push(`${tail},"raw":{"scores":${JSON.stringify(rawOut.scores)},"boxes":[`);
  lines.push(`${rawOut.boxes.map((b) => JSON.stringify(b)).join(',\n')}]}}`);
} else {
  lines.push(`${tail}}`);
}
process.stdout.write(`${lines.join('\n')}\n`);
