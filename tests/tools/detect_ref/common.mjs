// Shared by ref.mjs and bench.mjs: face-api.js (the node-wasm bundle) on the tfjs wasm backend,
// the ssdMobilenetv1 weights from a model folder, and binary PPM (P6) input.
import { createRequire } from 'node:module';
import fs from 'node:fs';

const require = createRequire(import.meta.url);

// face-api.node-wasm.js requires @tensorflow/tfjs and @tensorflow/tfjs-backend-wasm (both 4.22.0,
// the versions it was built with) and re-exports tf, so faceapi.tf is the very instance it uses.
// simd false: the plain wasm binary instead of the SIMD one node picks (for timing only).
export async function loadFaceapi(modelDir, { simd = true } = {}) {
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  const { tf } = faceapi;
  if (!simd) tf.env().set('WASM_HAS_SIMD_SUPPORT', false);
  await tf.setBackend('wasm');
  await tf.ready();
  if (tf.getBackend() !== 'wasm') throw new Error(`backend is ${tf.getBackend()}, not wasm`);
  await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
  const env = tf.env();
  const wasmBackend = tf.engine().backend;
  const info = {
    faceapi: faceapi.version,
    tfjs: tf.version_core,
    'tfjs-backend-wasm': require('@tensorflow/tfjs-backend-wasm/package.json').version,
    node: process.version,
    backend: tf.getBackend(),
    simd: await env.getAsync('WASM_HAS_SIMD_SUPPORT'),
    multithread: await env.getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
    threads: wasmBackend.wasm?.tfjs?.getThreadsCount?.() ?? null,
  };
  return { faceapi, tf, info };
}

// Binary PPM, maxval 255 (what build/image_ppm writes): {width, height, data: Uint8Array w*h*3}
export function readPpm(path) {
  const buf = fs.readFileSync(path);
  let pos = 0;
  const token = () => {
    for (;;) {
      while (pos < buf.length && /\s/.test(String.fromCharCode(buf[pos]))) pos++;
      if (buf[pos] !== 0x23) break; // '#': a comment to the end of the line
      while (pos < buf.length && buf[pos] !== 0x0a) pos++;
    }
    const start = pos;
    while (pos < buf.length && !/\s/.test(String.fromCharCode(buf[pos]))) pos++;
    return buf.toString('latin1', start, pos);
  };
  const magic = token();
  const width = Number(token());
  const height = Number(token());
  const maxval = Number(token());
  pos++; // the single whitespace byte after maxval
  if (magic !== 'P6' || !(width > 0) || !(height > 0) || maxval !== 255) {
    throw new Error(`${path}: not a binary 8-bit PPM (P6, maxval 255)`);
  }
  const n = width * height * 3;
  if (buf.length - pos < n) throw new Error(`${path}: truncated PPM`);
  return { width, height, data: new Uint8Array(buf.buffer, buf.byteOffset + pos, n) };
}

// The photo as face-api's node demos build it: an int32 tensor3d [height, width, 3]
export function imageTensor(tf, img) {
  return tf.tensor3d(Int32Array.from(img.data), [img.height, img.width, 3], 'int32');
}
