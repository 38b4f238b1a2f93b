// node check_preprocess.mjs MODEL_DIR IMAGE.ppm ...
// Checks the two formulas README.md states against face-api itself, per PPM:
//  1. toBatchTensor(512, false) = the photo padded with zeros bottom/right to S = max(W, H), then
//     bilinear with source = dst·S/512, x0 = floor, x1 = min(x0 + 1, S - 1) (alignCorners and
//     halfPixelCenters false): prints the largest difference (0 expected);
//  2. locateFaces' boxes = the raw box of the face's anchor, clipped to [0, 1], times 512/rw
//     (512/rh) and W (H): prints the largest difference in pixels.
// Exit 1 when either is over 1e-6.
import { loadFaceapi, readPpm, imageTensor } from './common.mjs';

const [modelDir, ...ppms] = process.argv.slice(2);
if (!modelDir || !ppms.length) {
  process.stderr.write('usage: node check_preprocess.mjs MODEL_DIR IMAGE.ppm ...\n');
  process.exit(2);
}
const { faceapi, tf } = await loadFaceapi(modelDir);
const net = faceapi.nets.ssdMobilenetv1;
let bad = false;
for (const f of ppms) {
  const img = readPpm(f);
  const W = img.width;
  const H = img.height;
  const S = Math.max(W, H);
  const t = imageTensor(tf, img);
  const ni = await faceapi.toNetInput(t);
  const got = ni.toBatchTensor(512, false).dataSync();
  const px = (y, x, c) => (y < H && x < W ? img.data[(y * W + x) * 3 + c] : 0);
  const sc = S / 512;
  let dIn = 0;
  for (let y = 0; y < 512; y++) {
    for (let x = 0; x < 512; x++) {
      for (let c = 0; c < 3; c++) {
        const sy = y * sc;
        const sx = x * sc;
        const y0 = Math.floor(sy);
        const x0 = Math.floor(sx);
        const y1 = Math.min(y0 + 1, S - 1);
        const x1 = Math.min(x0 + 1, S - 1);
        const top = px(y0, x0, c) + (px(y0, x1, c) - px(y0, x0, c)) * (sx - x0);
        const bot = px(y1, x0, c) + (px(y1, x1, c) - px(y1, x0, c)) * (sx - x0);
        const v = top + (bot - top) * (sy - y0);
        dIn = Math.max(dIn, Math.abs(got[(y * 512 + x) * 3 + c] - v));
      }
    }
  }
  const dims = ni.getReshapedInputDimensions(0);
  const { boxes, scores } = net.forwardInput(ni);
  const sd = scores[0].dataSync();
  const bd = boxes[0].arraySync();
  const faces = await net.locateFaces(t, { minConfidence: 0.3 });
  const padX = 512 / dims.width;
  const padY = 512 / dims.height;
  let dBox = 0;
  for (const d of faces) {
    const b = bd[sd.indexOf(Math.fround(d.score))];
    const left = Math.max(0, b[1]) * padX;
    const top = Math.max(0, b[0]) * padY;
    const mine = [left * W, top * H, (Math.min(1, b[3]) * padX - left) * W, (Math.min(1, b[2]) * padY - top) * H];
    const theirs = [d.box.x, d.box.y, d.box.width, d.box.height];
    for (let k = 0; k < 4; k++) dBox = Math.max(dBox, Math.abs(mine[k] - theirs[k]));
  }
  tf.dispose([t, boxes, scores]);
  bad ||= dIn > 1e-6 || dBox > 1e-6;
  console.log(`${f}: ${W}x${H} input_size ${dims.width}x${dims.height} net input max diff ${dIn}, ${faces.length} face boxes max diff ${dBox.toExponential(1)} px`);
}
process.exit(bad ? 1 : 0);
