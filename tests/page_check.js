// Usage: node page_check.js PAGE.html SCREENSHOT.png [MERMAID.txt ...]
// Opens a symgrad HTML page in headless Chromium with every network request refused,
// waits for KaTeX to typeset it, writes a full-page screenshot, then loads mermaid's
// own parser into the page and parses each Mermaid file.  Prints one JSON object.
const path = require("path");
const fs = require("fs");
const { chromium } = require("playwright-core");

(async () => {
  const [pagePath, screenshot, ...mermaidFiles] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const result = { consoleErrors: [], requests: [] };
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    page.on("console", (message) => {
      if (message.type() === "error") result.consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => result.consoleErrors.push(String(error)));
    page.on("request", (request) => {
      if (!/^(file|data):/.test(request.url())) result.requests.push(request.url());
    });
    await page.route(/^https?:/, (route) => route.abort());
    await page.goto("file://" + path.resolve(pagePath));
    await page.waitForFunction(() => document.documentElement.dataset.typeset === "done",
                               null, { timeout: 30000 });
    await page.evaluate(() => document.fonts.ready);
    Object.assign(result, await page.evaluate(() => ({
      katex: document.querySelectorAll(".katex").length,
      katexErrors: [...document.querySelectorAll(".katex-error")].map((e) => e.title),
      untypeset: [...document.querySelectorAll(".math")].filter(
        (e) => !e.querySelector(".katex")).length,
      fontsLoaded: [...document.fonts].filter((font) => font.status === "loaded").length,
      images: [...document.images].map((image) => [image.naturalWidth, image.naturalHeight]),
      graphNodes: document.querySelectorAll("figure.graph svg g.node").length,
      text: document.body.innerText,
    })));
    await page.screenshot({ path: screenshot, fullPage: true });
    if (mermaidFiles.length) {
      await page.addScriptTag({ path: require.resolve("mermaid/dist/mermaid.min.js") });
      result.mermaid = [];
      for (const file of mermaidFiles) {
        result.mermaid.push(await page.evaluate(async (text) => {
          try {
            mermaid.initialize({ startOnLoad: false });
            const parsed = await mermaid.parse(text);
            return parsed && parsed.diagramType ? "ok:" + parsed.diagramType : "ok";
          } catch (error) {
            return "error: " + (error.message || String(error));
          }
        }, fs.readFileSync(file, "utf8")));
      }
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
})().catch((error) => { console.error(error); process.exit(1); });
