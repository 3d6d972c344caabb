// The demo page: both exported models (Keras and PyTorch, ONNX) run on the same 14x14 input.
(function () {
  var SIZE = 14;
  var base = new URL("demo/", document.baseURI).href;
  var status = document.getElementById("tfpt-status");
  if (location.protocol === "file:") {
    document.querySelector(".tfpt-demo__file").hidden = false;
    status.textContent = "Serve the site (make site-serve) to run the models.";
    return;
  }
  ort.env.wasm.wasmPaths = base + "ort/";
  ort.env.wasm.numThreads = 1;  // threads need cross-origin isolation, which a plain server lacks
  var canvas = document.getElementById("tfpt-canvas");
  var ctx = canvas.getContext("2d");

  function clear() { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height); }

  // 28x28 grey levels (0-255) of the canvas, then 2x2 means / 255, as scripts/export_demo.py.
  function pixels(source) {
    var small = document.createElement("canvas");
    small.width = small.height = 28;
    var sctx = small.getContext("2d");
    sctx.imageSmoothingEnabled = true;
    sctx.imageSmoothingQuality = "high";
    sctx.drawImage(source, 0, 0, 28, 28);  // a 28x28 test image is copied as it is
    return sctx.getImageData(0, 0, 28, 28).data;
  }

  function input(px) {
    var x = new Float32Array(SIZE * SIZE);
    for (var r = 0; r < SIZE; r++) {
      for (var c = 0; c < SIZE; c++) {
        var sum = 0;
        for (var dr = 0; dr < 2; dr++) for (var dc = 0; dc < 2; dc++) {
          sum += px[((2 * r + dr) * 28 + 2 * c + dc) * 4];
        }
        x[r * SIZE + c] = Math.fround(Math.fround(sum / 4) / 255);
      }
    }
    return x;
  }

  function softmax(v) {
    var m = Math.max.apply(null, v), e = v.map(function (a) { return Math.exp(a - m); });
    var s = e.reduce(function (a, b) { return a + b; }, 0);
    return e.map(function (a) { return a / s; });
  }

  function bars(id, logits) {
    var p = softmax(logits), best = p.indexOf(Math.max.apply(null, p));
    document.getElementById(id).innerHTML = p.map(function (q, d) {
      return '<div class="tfpt-bar' + (d === best ? " tfpt-bar--best" : "") + '"><span>' + d +
        '</span><span class="tfpt-bar__fill" style="width:' + (100 * q).toFixed(1) +
        '%"></span><span>' + (100 * q).toFixed(1) + "%</span></div>";
    }).join("");
  }

  var sessions = Promise.all(["keras", "torch"].map(function (name) {
    return ort.InferenceSession.create(base + name + ".onnx", { executionProviders: ["wasm"] });
  }));

  async function predict(px) {
    var [keras, torch] = await sessions;
    var x = input(px || pixels(canvas));
    // C = 1: NHWC (Keras) and NCHW (PyTorch) hold the same numbers in the same order.
    var outs = await Promise.all([
      keras.run({ [keras.inputNames[0]]: new ort.Tensor("float32", x, [1, SIZE, SIZE, 1]) }),
      torch.run({ [torch.inputNames[0]]: new ort.Tensor("float32", x, [1, 1, SIZE, SIZE]) }),
    ]);
    var scores = {
      keras: Array.from(outs[0][keras.outputNames[0]].data),
      torch: Array.from(outs[1][torch.outputNames[0]].data),
    };
    bars("tfpt-bars-keras", scores.keras);
    bars("tfpt-bars-torch", scores.torch);
    var diff = Math.max.apply(null, scores.keras.map(function (a, i) { return Math.abs(a - scores.torch[i]); }));
    document.getElementById("tfpt-diff").textContent =
      "largest difference between the two models' logits: " + diff.toExponential(1);
    status.textContent = "Both models answered.";
    return scores;
  }

  function sample(src) {
    return new Promise(function (resolve, reject) {
      var img = new Image();
      img.onload = function () {
        ctx.imageSmoothingEnabled = false;  // 28x28 -> 280x280 by whole pixels: exact on the way back
        ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
        resolve(predict(pixels(img)));
      };
      img.onerror = reject;
      img.src = src;
    });
  }

  var drawing = false;
  function point(e) {
    var box = canvas.getBoundingClientRect();
    return [(e.clientX - box.left) * canvas.width / box.width, (e.clientY - box.top) * canvas.height / box.height];
  }
  canvas.addEventListener("pointerdown", function (e) {
    drawing = true; canvas.setPointerCapture(e.pointerId);
    ctx.beginPath(); ctx.moveTo.apply(ctx, point(e));
  });
  canvas.addEventListener("pointermove", function (e) {
    if (!drawing) return;
    ctx.lineWidth = 22; ctx.lineCap = ctx.lineJoin = "round"; ctx.strokeStyle = "#fff";
    ctx.lineTo.apply(ctx, point(e)); ctx.stroke();
  });
  canvas.addEventListener("pointerup", function () { drawing = false; predict(); });
  document.getElementById("tfpt-clear").addEventListener("click", clear);
  document.querySelectorAll(".tfpt-sample").forEach(function (b) {
    b.addEventListener("click", function () { sample(b.dataset.src); });
  });

  clear();
  var ready = sessions.then(function () { status.textContent = "Ready: draw a digit or pick a test image."; },
    function (err) { status.textContent = "The models did not load: " + err; throw err; });
  // for tests/test_site_browser.py: the ten logits of both models for a test image
  window.tfptDemo = { ready: ready, sample: sample };
})();
