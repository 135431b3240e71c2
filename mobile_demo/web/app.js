// Runs an exported keras_tl .tflite in the browser with MediaPipe Tasks' ImageClassifier. The model file carries
// its labels and input normalization (TFLite metadata). With ?size=N (the model's input size; serve.py adds it)
// the page resizes pictures itself the way training did; without it MediaPipe resizes them.
import { FilesetResolver, ImageClassifier } from "./vendor/vision_bundle.mjs";
import { decodePicture, onWhite, resizeForModel } from "./resize.js";

const TOP_K = 3;
const query = new URLSearchParams(location.search);
const modelUrl = query.get("model") || "model.tflite";
const inputSize = Number(query.get("size")) || 0;
const $ = (id) => document.getElementById(id);
let classifier = null;
let runningMode = "IMAGE";
let cameraOn = false;

// Switching the running mode restarts MediaPipe's graph, so only switch when it changes.
async function useMode(mode) {
  if (mode !== runningMode) await classifier.setOptions({ runningMode: mode });
  runningMode = mode;
}

function modelInput(source, width, height) {
  return inputSize ? resizeForModel(source, width, height, inputSize) : source;
}

function show(result, milliseconds) {
  const categories = result.classifications[0]?.categories ?? [];
  $("top1").textContent = categories.length ? categories[0].categoryName : "(no result)";
  $("results").replaceChildren(...categories.map((c) => {
    const item = document.createElement("li");
    item.textContent = `${c.categoryName}  ${c.score.toFixed(3)}`;
    return item;
  }));
  $("latency").textContent = `${milliseconds.toFixed(1)} ms on this device (WebAssembly, CPU)`;
  document.body.dataset.state = "classified";
}

async function classifyPhoto(file) {
  stopCamera();
  const photo = $("photo");
  URL.revokeObjectURL(photo.src);
  photo.src = URL.createObjectURL(file);
  const picture = await decodePicture(file);  // what the model sees; the <img> only shows the photo
  photo.hidden = false;
  await useMode("IMAGE");
  const { width, height } = picture;
  // Without ?size MediaPipe resizes the photo, which still goes on white first (resizeForModel does that too).
  const input = inputSize ? resizeForModel(picture, width, height, inputSize) : onWhite(picture, width, height);
  picture.close();
  const start = performance.now();
  const result = classifier.classify(input);
  show(result, performance.now() - start);
}

async function startCamera() {
  const video = $("video");
  video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  await video.play();
  video.hidden = false;
  $("photo").hidden = true;
  await useMode("VIDEO");
  cameraOn = true;
  $("camera").textContent = "Stop camera";
  const step = () => {
    if (!cameraOn) return;
    const input = modelInput(video, video.videoWidth, video.videoHeight);
    const start = performance.now();
    const result = classifier.classifyForVideo(input, start);
    show(result, performance.now() - start);
    requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
}

function stopCamera() {
  const video = $("video");
  cameraOn = false;
  video.srcObject?.getTracks().forEach((track) => track.stop());
  video.srcObject = null;
  video.hidden = true;
  $("camera").textContent = "Live camera";
}

async function main() {
  const wasm = await FilesetResolver.forVisionTasks(new URL("vendor/wasm", location.href).href);
  classifier = await ImageClassifier.createFromOptions(wasm, {
    baseOptions: { modelAssetPath: modelUrl, delegate: "CPU" },
    maxResults: TOP_K,
    runningMode: "IMAGE",
  });
  const name = decodeURIComponent(modelUrl.split("/").pop());
  $("status").textContent = `Model ${name} ready: pick a photo or start the camera.`;
  $("camera").disabled = !navigator.mediaDevices?.getUserMedia;
  document.body.dataset.state = "ready";
}

$("picker").addEventListener("change", (event) => {
  const file = event.target.files[0];
  if (file) classifyPhoto(file).catch(fail);
});
$("camera").addEventListener("click", () => (cameraOn ? stopCamera() : startCamera().catch(fail)));

function fail(error) {
  $("status").textContent = `Error: ${error.message ?? error}`;
  document.body.dataset.state = "error";
}

main().catch(fail);
