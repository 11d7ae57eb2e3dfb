// The capture page of Bonafide: opens the front camera, guides the person into the oval, asks for
// each gesture of the session in turn while recording one clip per gesture, uploads the clips with
// the link's one-time token and shows the verdict. No framework, nothing loaded from elsewhere.
'use strict';

(function () {
  const API = '/api/capture/link';
  const REDIRECT_MS = 6000;
  const POLL_MS = 1000;
  const POLL_LIMIT_MS = 5 * 60 * 1000;
  const READY_MS = 1200; // "look straight at the camera" before each gesture
  const ANYWAY_MS = 8000; // the face check may be skipped after this (the server checks anyway)
  const MIME_TYPES = ['video/webm;codecs=vp8', 'video/webm;codecs=vp9', 'video/webm', 'video/mp4;codecs=avc1', 'video/mp4'];

  const $ = (id) => document.getElementById(id);
  const body = document.body;
  let T = {}; // the strings of the chosen language
  let token = '';
  let session = null;
  let stream = null;
  let clips = [];
  let resultToken = '';

  // --- strings ----------------------------------------------------------------------------------

  function t(key, vars) {
    let s = T[key];
    if (s === undefined) s = key;
    if (vars) for (const k of Object.keys(vars)) s = s.replace('{' + k + '}', String(vars[k]));
    return s;
  }

  async function loadStrings() {
    const want = (new URLSearchParams(location.search).get('lang') || navigator.language || 'en').toLowerCase();
    let all = {};
    try {
      const r = await fetch('strings.json', { cache: 'no-cache' });
      all = await r.json();
    } catch (e) { /* the English in the HTML stays */ }
    const lang = all[want] ? want : (all[want.split('-')[0]] ? want.split('-')[0] : 'en');
    T = Object.assign({}, all.en || {}, all[lang] || {});
    document.documentElement.lang = lang;
    document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.title = t('title');
    $('plan').setAttribute('aria-label', t('steps'));
  }

  // --- screens ----------------------------------------------------------------------------------

  function show(name) {
    body.dataset.screen = name;
    document.querySelectorAll('.screen').forEach((s) => { s.hidden = s.id !== 'screen-' + name; });
    const focus = document.querySelector('#screen-' + name + ' button:not([hidden]), #screen-' + name + ' a.button:not([hidden])');
    if (focus) focus.focus(); else $('title').focus();
  }

  function fail(key, retry) {
    stopCamera();
    body.dataset.error = key;
    $('error').textContent = t(key);
    const b = $('error-retry');
    b.hidden = !retry;
    b.onclick = retry || null;
    show('error');
  }

  // --- the API ----------------------------------------------------------------------------------

  // apiError maps an Oz error envelope to a string key.
  function apiError(status, data) {
    const reason = data && data.error_details && data.error_details.reason;
    if (reason === 'EXPIRED' || reason === 'RESULT_EXPIRED') return 'errExpired';
    if (reason === 'USED') return 'errUsed';
    if (reason === 'INVALID_LINK' || reason === 'NO_TOKEN') return 'errInvalid';
    return 'errGeneric';
  }

  async function call(path, tok) {
    const r = await fetch(API + path, { headers: { 'X-Capture-Token': tok }, cache: 'no-store' });
    let data = null;
    try { data = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) { const err = new Error('HTTP ' + r.status); err.key = apiError(r.status, data); throw err; }
    return data;
  }

  // --- camera and the light face check ------------------------------------------------------------

  async function openCamera() {
    if (!window.isSecureContext) throw Object.assign(new Error('insecure'), { key: 'errInsecure' });
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 25, max: 30 } },
      });
    } catch (e) {
      const key = e && (e.name === 'NotAllowedError' || e.name === 'SecurityError') ? 'errCameraDenied'
        : e && (e.name === 'NotFoundError' || e.name === 'OverconstrainedError') ? 'errNoCamera'
          : e && e.name === 'NotReadableError' ? 'errCameraBusy' : 'errGeneric';
      throw Object.assign(new Error(String(e && e.name)), { key });
    }
    const v = $('video');
    v.srcObject = stream;
    await new Promise((resolve) => { if (v.readyState >= 2) resolve(); else v.onloadeddata = () => resolve(); });
    try { await v.play(); } catch (e) { /* autoplay of a muted stream is allowed */ }
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach((tr) => tr.stop());
    stream = null;
  }

  // The check uses the browser's FaceDetector where it exists (faces, their size and place);
  // elsewhere, a heuristic on a small canvas: brightness inside the oval, and the share of
  // skin-coloured pixels (YCbCr) inside the oval and in the whole picture.
  const canvas = document.createElement('canvas');
  canvas.width = 80; canvas.height = 60;
  const g2d = canvas.getContext('2d', { willReadFrequently: true });
  let detector = null;
  if ('FaceDetector' in window) {
    try { detector = new window.FaceDetector({ fastMode: true, maxDetectedFaces: 3 }); } catch (e) { detector = null; }
  }

  async function faceCheck(v) {
    const w = v.videoWidth, h = v.videoHeight;
    if (!w || !h) return 'noFace';
    if (detector) {
      try {
        const faces = await detector.detect(v);
        if (faces.length === 0) return 'noFace';
        if (faces.length > 1) return 'severalFaces';
        const b = faces[0].boundingBox;
        // The face's share of the picture's shorter side: at most 0.5 keeps 2x of room around it
        // for the passive models' view (they decide best with their whole view, 2.3x for the shipped model, in the picture).
        const size = b.width / Math.min(w, h);
        if (size < 0.2) return 'tooFar';
        if (size > 0.5) return 'tooClose';
        const cx = (b.x + b.width / 2) / w, cy = (b.y + b.height / 2) / h;
        if (Math.abs(cx - 0.5) > 0.18 || Math.abs(cy - 0.5) > 0.22) return 'position';
      } catch (e) { detector = null; }
    }
    g2d.drawImage(v, 0, 0, canvas.width, canvas.height);
    const px = g2d.getImageData(0, 0, canvas.width, canvas.height).data;
    let inN = 0, inSkin = 0, inLuma = 0, allSkin = 0;
    const n = canvas.width * canvas.height;
    for (let y = 0; y < canvas.height; y++) {
      for (let x = 0; x < canvas.width; x++) {
        const i = (y * canvas.width + x) * 4;
        const r = px[i], gg = px[i + 1], b = px[i + 2];
        const Y = 0.299 * r + 0.587 * gg + 0.114 * b;
        const cb = 128 - 0.168736 * r - 0.331264 * gg + 0.5 * b;
        const cr = 128 + 0.5 * r - 0.418688 * gg - 0.081312 * b;
        const skin = Y > 35 && cb >= 77 && cb <= 127 && cr >= 133 && cr <= 173;
        if (skin) allSkin++;
        const dx = (x + 0.5) / canvas.width - 0.5, dy = (y + 0.5) / canvas.height - 0.46;
        if ((dx * dx) / (0.17 * 0.17) + (dy * dy) / (0.30 * 0.30) <= 1) {
          inN++; inLuma += Y; if (skin) inSkin++;
        }
      }
    }
    const luma = inLuma / inN, inside = inSkin / inN, total = allSkin / n;
    body.dataset.faceMetrics = luma.toFixed(0) + ' ' + inside.toFixed(2) + ' ' + total.toFixed(2);
    if (luma < 45) return 'tooDark';
    if (total > 0.4) return 'tooClose';
    if (total < 0.03) return 'noFace';
    if (inside < 0.12) return total > 0.08 ? 'position' : 'tooFar';
    return '';
  }

  // guide runs the face check until it has passed for a second (or the person skips it).
  function guide() {
    const v = $('video');
    let good = 0;
    const started = Date.now();
    return new Promise((resolve) => {
      let done = false;
      const finish = () => { if (!done) { done = true; $('anyway').hidden = true; resolve(); } };
      $('anyway').onclick = finish;
      const tick = async () => {
        if (done) return;
        const problem = await faceCheck(v);
        body.classList.toggle('face-ok', !problem);
        body.classList.toggle('face-bad', !!problem);
        body.dataset.face = problem || 'ok';
        $('hint').textContent = t(problem || 'faceOk');
        good = problem ? 0 : good + 1;
        if (good >= 4) { finish(); return; }
        if (Date.now() - started > ANYWAY_MS) $('anyway').hidden = false;
        setTimeout(tick, 250);
      };
      $('prompt').textContent = t('position');
      tick();
    });
  }

  // --- recording ----------------------------------------------------------------------------------

  function pickMime() {
    for (const m of MIME_TYPES) if (window.MediaRecorder.isTypeSupported(m)) return m;
    return '';
  }

  function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

  function animateBar(ms) {
    const fill = $('bar-fill');
    const t0 = performance.now();
    $('bar').hidden = false;
    const step = (now) => {
      const f = Math.min(1, (now - t0) / ms);
      fill.style.width = (f * 100).toFixed(1) + '%';
      if (f < 1 && body.dataset.recording === '1') requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  }

  function record(ms, mime) {
    return new Promise((resolve, reject) => {
      const chunks = [];
      let rec;
      try {
        rec = new MediaRecorder(stream, mime ? { mimeType: mime, videoBitsPerSecond: 1500000 } : { videoBitsPerSecond: 1500000 });
      } catch (e) { reject(Object.assign(e, { key: 'errUnsupported' })); return; }
      rec.ondataavailable = (e) => { if (e.data && e.data.size) chunks.push(e.data); };
      rec.onerror = (e) => reject(Object.assign(new Error('recorder'), { key: 'errGeneric' }));
      rec.onstop = () => resolve(new Blob(chunks, { type: rec.mimeType || mime || 'video/webm' }));
      rec.start(500);
      setTimeout(() => { if (rec.state !== 'inactive') rec.stop(); }, ms);
    });
  }

  async function gestures() {
    const mime = pickMime();
    const ms = Math.round(session.gesture_seconds * 1000);
    clips = [];
    const total = session.actions.length;
    for (let i = 0; i < total; i++) {
      const tag = session.actions[i];
      body.dataset.gesture = String(i + 1);
      $('hint').textContent = t('gestureOf', { n: i + 1, total });
      $('prompt').textContent = t('getReady');
      await sleep(READY_MS);
      // The clip starts with the prompt: its first frames, before the person reacts, are the
      // baseline the gesture is measured from.
      $('prompt').textContent = t(tag);
      body.dataset.recording = '1';
      $('rec').hidden = false;
      animateBar(ms);
      clips.push(await record(ms, mime));
      body.dataset.recording = '0';
      $('rec').hidden = true;
      $('bar').hidden = true;
    }
    stopCamera();
  }

  // --- upload, verdict ----------------------------------------------------------------------------

  function upload() {
    show('upload');
    $('retry').hidden = true;
    $('upload-status').textContent = t('uploading');
    const form = new FormData();
    clips.forEach((c, i) => {
      const ext = (c.type || '').indexOf('mp4') >= 0 ? 'mp4' : 'webm';
      form.append('gesture' + (i + 1), c, 'gesture' + (i + 1) + '.' + ext);
    });
    const xhr = new XMLHttpRequest();
    xhr.open('POST', API + '/media');
    xhr.setRequestHeader('X-Capture-Token', token);
    xhr.responseType = 'json';
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      const pct = Math.round((e.loaded / e.total) * 100);
      $('upload-progress').value = pct;
      $('upload-status').textContent = t('uploadProgress', { pct });
    };
    const retry = () => {
      $('upload-status').textContent = t('uploadFailed');
      body.dataset.error = 'uploadFailed';
      $('retry').hidden = false;
      $('retry').onclick = upload;
      $('retry').focus();
    };
    xhr.onerror = retry;
    xhr.ontimeout = retry;
    xhr.onload = () => {
      if (xhr.status === 201 && xhr.response && xhr.response.result_token) {
        resultToken = xhr.response.result_token;
        delete body.dataset.error;
        waitVerdict();
      } else if (xhr.status >= 500 || xhr.status === 0) {
        retry();
      } else {
        fail(apiError(xhr.status, xhr.response));
      }
    };
    xhr.send(form);
  }

  async function waitVerdict() {
    show('wait');
    const t0 = Date.now();
    for (;;) {
      let r;
      try {
        r = await call('/result', resultToken);
      } catch (e) {
        if (e.key && e.key !== 'errGeneric') { fail(e.key); return; }
        r = null;
      }
      if (r && r.state === 'FINISHED') { verdict(r); return; }
      if (Date.now() - t0 > POLL_LIMIT_MS) { fail('errGeneric'); return; }
      await sleep(POLL_MS);
    }
  }

  function verdict(r) {
    const res = r.show_result ? r.resolution_status : '';
    body.dataset.resolution = res || 'DONE';
    $('verdict').textContent = res === 'SUCCESS' ? t('success') : res === 'DECLINED' ? t('declined')
      : res === 'FAILED' ? t('failed') : t('done');
    const why = [];
    if (res === 'DECLINED') {
      for (const code of new Set(r.reasons || [])) if (T['reason_' + code]) why.push(t('reason_' + code));
    }
    $('verdict-detail').textContent = why.join(' ');
    const back = r.return_url && /^https?:\/\//i.test(r.return_url) ? r.return_url : '';
    const cont = $('continue');
    cont.hidden = !back;
    if (back) {
      cont.href = back;
      $('verdict-detail').textContent = (why.join(' ') + ' ' + t('redirecting')).trim();
      setTimeout(() => location.assign(back), REDIRECT_MS);
    }
    show('verdict');
  }

  // --- start --------------------------------------------------------------------------------------

  function plan() {
    const ol = $('plan');
    ol.textContent = '';
    for (const tag of session.actions) {
      const li = document.createElement('li');
      li.textContent = t(tag);
      ol.appendChild(li);
    }
  }

  async function run() {
    try {
      show('camera');
      $('prompt').textContent = '';
      await openCamera();
      await guide();
      await gestures();
      upload();
    } catch (e) {
      fail(e.key || 'errGeneric', e.key === 'errCameraBusy' || e.key === 'errGeneric' ? run : null);
    }
  }

  async function main() {
    await loadStrings();
    // The token is in the fragment (never sent to a server); it leaves the address bar at once.
    token = decodeURIComponent(location.hash.replace(/^#/, ''));
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.MediaRecorder || !window.fetch) {
      fail('errUnsupported');
      return;
    }
    if (!token) { fail('errInvalid'); return; }
    try {
      session = await call('', token);
    } catch (e) {
      fail(e.key || 'errGeneric', e.key === 'errGeneric' ? main : null);
      return;
    }
    plan();
    $('start').onclick = run;
    show('intro');
  }

  // A new link opened in the same tab changes only the fragment: start again with its token.
  window.addEventListener('hashchange', () => location.reload());
  main();
})();
