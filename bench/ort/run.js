#!/usr/bin/env node
// ONNX Runtime (CPU, fp32) side of bench/compare.sh: runs the networks bench/pytorch_bench.py
// --export-onnx wrote to DIR, checks each output against PyTorch fp32's (max_abs_vs_pytorch=),
// then prints the median of RUNS timed runs after one warm-up, in the format of `stargan bench`.
// A developer tool (npm onnxruntime-node, installed by bench/setup-peers.sh), never a runtime
// dependency of the service.
// usage: node bench/ort/run.js --dir DIR [--runs 5] [--threads 2] [--nets generator,fan] [--spin 0|1]
//   --spin: ORT's intra-op threads busy-wait between ops (its default, 1); 0 lets them sleep,
//   which is what pays on a machine shared with other jobs
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

function readF32(file) {
  const b = fs.readFileSync(file);
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(4 * i);
  return out;
}

function median(t) {
  const s = [...t].sort((a, b) => a - b), n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

async function main() {
  const dir = arg('--dir');
  const runs = parseInt(arg('--runs', '5'), 10);
  const threads = parseInt(arg('--threads', '2'), 10);
  if (!dir || !(runs >= 1) || !(threads >= 1)) {
    console.error('usage: node bench/ort/run.js --dir DIR [--runs N] [--threads T] [--nets a,b]');
    process.exit(2);
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const only = arg('--nets');
  const nets = only ? only.split(',') : Object.keys(manifest);
  for (const name of nets) {
    const m = manifest[name];
    if (!m) continue;
    const session = await ort.InferenceSession.create(path.join(dir, m.model), {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      extra: {session: {intra_op: {allow_spinning: arg('--spin', '1')}}},
    });
    const feeds = {};
    for (const i of m.inputs)
      feeds[i.name] = new ort.Tensor('float32', readF32(path.join(dir, i.file)), i.shape);
    const want = readF32(path.join(dir, m.output.file));
    const got = (await session.run(feeds))[session.outputNames[0]].data; // warm-up and check
    let maxAbs = 0, maxRef = 0;
    for (let i = 0; i < want.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
      maxRef = Math.max(maxRef, Math.abs(want[i]));
    }
    if (got.length !== want.length) maxAbs = Infinity;
    const t = [];
    for (let r = 0; r < runs; r++) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      t.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    console.log(`ort ${name} median_ms=${median(t).toFixed(2)} threads=${threads} ` +
                `max_abs_vs_pytorch=${maxAbs.toExponential(2)} max_ref=${maxRef.toPrecision(3)} spin=${arg('--spin', '1')} onnxruntime=${ort.env.versions.node}`);
    await session.release();
  }
}

main().catch((e) => {
  console.error(`ort: ${e.message || e}`);
  process.exit(1);
});
