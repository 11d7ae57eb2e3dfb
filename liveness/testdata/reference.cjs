// reference.cjs builds each model's input tensor the way the npm package faceplugin@1.0.3 does in
// its lib/fr_*.js, runs the model with onnxruntime-node and prints the outputs, so that the Go
// preprocessing in liveness/models.go and liveness/detect.go can be checked against it
// (liveness/reference_test.go).
//
// CommonJS on purpose: `NODE_PATH=<dir holding onnxruntime-node> node reference.cjs` resolves
// require() through NODE_PATH, which ESM imports ignore.
//
// stdin:  {"models_dir": "...", "jobs": [{"model": "detect"|"landmark"|"liveness"|"eye"|"pose"|
//          "expression"|"feature", "width": W, "height": H, "rgb_base64": "...",
//          "echo_input": false}]}
//         rgb_base64 is the crop the JS holds right after its cv.resize / cv.warpAffine: W*H packed
//         R,G,B bytes (the JS reads a canvas, so its Mat is R,G,B,A; alpha is 255 and unused here).
// stdout: {"results": [{"outputs": {"<output name>": [floats]}, "input": [floats] (if echo_input)}]}

'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

// Input shape (C, H, W) of each model and the function that fills its tensor from an R,G,B crop.
const MODELS = {
  detect: { file: 'fr_detect.onnx', c: 3, h: 240, w: 320, fill: fillDetect },
  landmark: { file: 'fr_landmark.onnx', c: 1, h: 64, w: 64, fill: fillLandmark },
  liveness: { file: 'fr_liveness.onnx', c: 3, h: 128, w: 128, fill: fillLiveness },
  eye: { file: 'fr_eye.onnx', c: 1, h: 24, w: 24, fill: fillEye },
  pose: { file: 'fr_pose.onnx', c: 3, h: 224, w: 224, fill: fillPose },
  expression: { file: 'fr_expression.onnx', c: 3, h: 224, w: 224, fill: fillExpression },
  feature: { file: 'fr_feature.onnx', c: 3, h: 112, w: 112, fill: fillFeature },
};

// --- OpenCV conversions as they act on the JS's R,G,B,A Mats ---------------------------------

// swapRB is cv.cvtColor(m, m, COLOR_BGR2RGB) applied to an R,G,B,A Mat: OpenCV believes the first
// byte is blue, so it exchanges bytes 0 and 2, and the Mat ends up B,G,R.
function swapRB(rgb) {
  const out = Buffer.alloc(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    out[i] = rgb[i + 2];
    out[i + 1] = rgb[i + 1];
    out[i + 2] = rgb[i];
  }
  return out;
}

// grayOpenCV is cv.cvtColor(m, m, COLOR_BGR2GRAY) on an R,G,B,A Mat. The package ships OpenCV.js
// 3.3.1 (js/opencv_js.wasm), whose 8-bit path is fixed point with 14 fractional bits (B2Y = 1868,
// G2Y = 9617, R2Y = 4899, plus 1 << 13 before the shift); this matches that build's cvtColor on
// every colour tried (1.1M of them). OpenCV 4 switched to 15 bits, so do not "update" it. It weights
// byte 0 by B2Y and byte 2 by R2Y; on this Mat byte 0 is red, so red gets 0.114 and blue 0.299.
function grayOpenCV(rgb) {
  const n = rgb.length / 3;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
    out[i] = (r * 1868 + g * 9617 + b * 4899 + (1 << 13)) >> 14;
  }
  return out;
}

// planar writes a packed 3-channel buffer as CHW float planes in memory order, each value passed
// through f(v, channel): the JS's per-pixel loop followed by its ndarray-ops transpose.
function planar(px, n, out, f) {
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[c * n + i] = f(px[3 * i + c], c);
  }
}

// --- one function per JS preprocess* ---------------------------------------------------------

// fr_detect.js detectFaceImage + preprocessDetection: BGR2RGB after the resize, then (v-127)/128.
function fillDetect(rgb, n, out) {
  planar(swapRB(rgb), n, out, (v) => (v - 127) / 128.0);
}

// fr_landmark.js alignLandmarkImage + preprocessLandmark: BGR2GRAY after the resize, then v/256.
function fillLandmark(rgb, n, out) {
  const g = grayOpenCV(rgb);
  for (let i = 0; i < n; i++) out[i] = g[i] / 256.0;
}

// fr_liveness.js preprocessLiveness feeds the canvas bytes raw (0-255) in memory order R,G,B.
// Bonafide deliberately feeds B,G,R instead, as the model's original Silent-Face training code does
// with OpenCV (shared/docs/liveness.md, Models table), so this reference does the same.
function fillLiveness(rgb, n, out) {
  planar(swapRB(rgb), n, out, (v) => v);
}

// fr_eye.js alignEyeImage + preprocessEye: BGR2GRAY after the resize, then v/255.
function fillEye(rgb, n, out) {
  const g = grayOpenCV(rgb);
  for (let i = 0; i < n; i++) out[i] = g[i] / 255.0;
}

// fr_pose.js predictPose + preprocessPose: BGR2RGB after the resize, then ImageNet mean and std
// indexed by plane position.
const POSE_MEAN = [0.485, 0.456, 0.406];
const POSE_STD = [0.229, 0.224, 0.225];
function fillPose(rgb, n, out) {
  planar(swapRB(rgb), n, out, (v, c) => (v / 255.0 - POSE_MEAN[c]) / POSE_STD[c]);
}

// fr_expression.js alignExpressionImage + preprocessExpression: no colour conversion, v/255.
function fillExpression(rgb, n, out) {
  planar(rgb, n, out, (v) => v / 255.0);
}

// fr_feature.js alignFeatureImage (warpAffine) + preprocessFeature: no colour conversion,
// (v-127)/128.
function fillFeature(rgb, n, out) {
  planar(rgb, n, out, (v) => (v - 127) / 128.0);
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const req = JSON.parse(fs.readFileSync(0, 'utf8'));
  const sessions = {};
  const opts = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  const results = [];
  for (const [k, job] of req.jobs.entries()) {
    const spec = MODELS[job.model];
    if (!spec) throw new Error(`job ${k}: unknown model ${JSON.stringify(job.model)}`);
    if (job.width !== spec.w || job.height !== spec.h) {
      throw new Error(`job ${k}: ${job.model} takes ${spec.w}x${spec.h}, got ${job.width}x${job.height}`);
    }
    const rgb = Buffer.from(job.rgb_base64, 'base64');
    const n = spec.w * spec.h;
    if (rgb.length !== 3 * n) throw new Error(`job ${k}: ${rgb.length} bytes, want ${3 * n}`);

    const data = new Float32Array(spec.c * n);
    spec.fill(rgb, n, data);

    if (!sessions[job.model]) {
      sessions[job.model] = await ort.InferenceSession.create(path.join(req.models_dir, spec.file), opts);
    }
    const sess = sessions[job.model];
    const feeds = { [sess.inputNames[0]]: new ort.Tensor('float32', data, [1, spec.c, spec.h, spec.w]) };
    const out = await sess.run(feeds);
    const outputs = {};
    for (const name of sess.outputNames) outputs[name] = Array.from(out[name].data);
    const res = { outputs };
    if (job.echo_input) res.input = Array.from(data);
    results.push(res);
  }
  process.stdout.write(JSON.stringify({ results }));
}

main().catch((err) => {
  process.stderr.write(`reference.cjs: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
