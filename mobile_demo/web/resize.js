// The resize keras_tl trains with: bilinear, antialiased (the triangle filter widens by the scale when it
// shrinks), each axis in turn, as TensorFlow's resize(antialias=True) and Pillow's BILINEAR do. MediaPipe's own
// resize samples without antialiasing, which moves small or sharp-edged pictures away from what the model saw in
// training, so the page hands it pictures already at the model's input size.

function taps(inSize, outSize) {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1);
  const result = [];
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const first = Math.max(0, Math.floor(center - support));
    const last = Math.min(inSize, Math.ceil(center + support));
    const weights = [];
    for (let j = first; j < last; j++) weights.push(Math.max(0, 1 - Math.abs((j + 0.5 - center) / support)));
    const total = weights.reduce((a, b) => a + b, 0);
    result.push({ first, weights: weights.map((w) => w / total) });
  }
  return result;
}

// A picked photo or file as training decodes it: turned as its EXIF orientation says (phones store photos
// sideways), colours as stored (Pillow applies no colour profile). The browser decodes palette, CMYK and 16-bit
// files itself, and an animation's first frame.
export function decodePicture(blob) {
  return createImageBitmap(blob, { imageOrientation: "from-image", colorSpaceConversion: "none" });
}

// The pixels of `source` (anything drawImage takes, at its natural size) on white: training composites
// transparent pixels on white, and an empty canvas would give them as black.
export function onWhite(source, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.fillStyle = "#fff";
  context.fillRect(0, 0, width, height);
  context.drawImage(source, 0, 0);
  return context.getImageData(0, 0, width, height);
}

// RGBA pixels of `source` (as for onWhite) -> ImageData of size x size.
export function resizeForModel(source, width, height, size) {
  const pixels = onWhite(source, width, height).data;
  const across = taps(width, size);
  const down = taps(height, size);
  const rows = new Float32Array(height * size * 3);  // resized along x, still full height
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < size; x++) {
      const { first, weights } = across[x];
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let k = 0; k < weights.length; k++) sum += weights[k] * pixels[(y * width + first + k) * 4 + c];
        rows[(y * size + x) * 3 + c] = sum;
      }
    }
  }
  const out = new ImageData(size, size);
  for (let y = 0; y < size; y++) {
    const { first, weights } = down[y];
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let k = 0; k < weights.length; k++) sum += weights[k] * rows[((first + k) * size + x) * 3 + c];
        out.data[(y * size + x) * 4 + c] = Math.round(sum);  // Uint8ClampedArray clamps to 0-255
      }
      out.data[(y * size + x) * 4 + 3] = 255;
    }
  }
  return out;
}
