// Copies the MediaPipe Tasks for Web runtime (JS bundle + WASM) from node_modules into vendor/, so the page
// loads nothing from the network and works offline on a phone. Run `npm ci` first (or `npm run build` after it).
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const runtime = join(here, "node_modules", "@mediapipe", "tasks-vision");
const vendor = join(here, "vendor");

if (!existsSync(runtime)) {
  console.error("node_modules/@mediapipe/tasks-vision is missing: run `npm ci` in mobile_demo/web first");
  process.exit(2);
}
rmSync(vendor, { recursive: true, force: true });
mkdirSync(join(vendor, "wasm"), { recursive: true });
cpSync(join(runtime, "vision_bundle.mjs"), join(vendor, "vision_bundle.mjs"));
// The loader picks the SIMD or no-SIMD build at run time, so both travel with the page.
for (const name of ["vision_wasm_internal.js", "vision_wasm_internal.wasm",
                    "vision_wasm_nosimd_internal.js", "vision_wasm_nosimd_internal.wasm"]) {
  cpSync(join(runtime, "wasm", name), join(vendor, "wasm", name));
}
console.log(`vendored @mediapipe/tasks-vision into ${vendor}`);
