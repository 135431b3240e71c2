// Drives the phone page in headless Debian Chromium through Playwright (playwright-core never downloads a
// browser): phone-sized viewport, pick each image file in turn through the page's file input, read the labels it
// shows, and take a screenshot after the last one.
// node tests/web_classify.mjs URL SCREENSHOT USER_DATA_DIR IMAGE...  ->  one JSON line on stdout
import { createRequire } from "node:module";

const require = createRequire(new URL("../mobile_demo/web/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const [url, screenshot, userDataDir, ...images] = process.argv.slice(2);
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"],
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
});
const messages = [];
try {
  const page = context.pages()[0] ?? await context.newPage();
  page.on("console", (message) => messages.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => messages.push(`pageerror: ${error.message}`));
  await page.goto(url);
  await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.state), null,
                             { timeout: 120_000 });
  const shown = [];
  for (const image of images) {
    await page.evaluate(() => { document.body.dataset.state = "waiting"; });
    await page.setInputFiles("#picker", image);
    await page.waitForFunction(() => ["classified", "error"].includes(document.body.dataset.state), null,
                               { timeout: 60_000 });
    shown.push(await page.evaluate(() => ({
      state: document.body.dataset.state,
      status: document.getElementById("status").textContent,
      top1: document.getElementById("top1").textContent,
      results: [...document.querySelectorAll("#results li")].map((item) => item.textContent),
      latency: document.getElementById("latency").textContent,
    })));
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  console.log(JSON.stringify({ shown, scrollWidth, messages }));
} finally {
  await context.close();
}
