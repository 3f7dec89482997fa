// Check HTML files with axe-core in headless Chromium, driven by playwright-core.
//
//   node tests/browser/axe.mjs PAGE.html [PAGE.html ...]
//
// Prints one JSON object on stdout: {"<path>": {"violations": [...], "incomplete": [...],
// "passes": N, "requests": [...]}}. Each page is served to the browser as
// http://paper.invalid/paper.html (from the file, by request interception, no server); any other
// request it makes is blocked and listed in `requests` (the paper is one self-contained file;
// data: URIs never reach the network). Exits 0 when the checks ran, whatever they found, and
// non-zero when they could not run.
//
// The browser is the system's Chromium (CHROMIUM, default /usr/bin/chromium), never a download,
// started with the flags a machine with no outside network needs.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import { chromium } from "playwright-core";

// WCAG 2.2 level A and AA, as the Public Sector Bodies Accessibility Regulations require.
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const pages = process.argv.slice(2);
if (pages.length === 0) {
  console.error("usage: node axe.mjs PAGE.html [PAGE.html ...]");
  process.exit(2);
}
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

// launch() gives the browser a new, empty profile of its own (a fresh --user-data-dir).
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: FLAGS,
  timeout: 60_000,
});
const brief = (items) =>
  items.map((rule) => ({
    id: rule.id,
    impact: rule.impact,
    help: rule.help,
    helpUrl: rule.helpUrl,
    nodes: rule.nodes.map((node) => ({
      target: node.target.join(" "),
      html: node.html.slice(0, 200),
      summary: node.failureSummary,
    })),
  }));

async function check(page) {
  const url = "http://paper.invalid/paper.html";
  const body = readFileSync(page);
  const context = await browser.newContext({ viewport: { width: 1280, height: 1024 } });
  try {
    const tab = await context.newPage();
    const requests = [];
    await tab.route("**/*", (route) => {
      const asked = route.request().url();
      if (asked === url) return route.fulfill({ body, contentType: "text/html; charset=utf-8" });
      requests.push(asked);
      return route.abort();
    });
    await tab.goto(url, { waitUntil: "load" });
    await tab.addScriptTag({ content: axeSource });
    const found = await tab.evaluate(
      (tags) =>
        // global `axe`, from the script tag above
        axe.run(document, {
          runOnly: { type: "tag", values: tags },
          resultTypes: ["violations", "incomplete"],
        }),
      TAGS,
    );
    return {
      axe: found.testEngine.version,
      violations: brief(found.violations),
      incomplete: brief(found.incomplete),
      passes: found.passes.length,
      requests,
    };
  } finally {
    await context.close();
  }
}

// Each page in a context of its own, all at once (the renderers are separate processes).
const results = {};
try {
  const found = await Promise.all(pages.map(check));
  pages.forEach((page, index) => (results[page] = found[index]));
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(results, null, 2) + "\n");
