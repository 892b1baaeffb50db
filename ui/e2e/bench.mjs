// fjord's UI benchmark in Debian's headless Chromium (bench/ui_bench.py prepares the data and
// runs this). Prints one JSON object: list first load, filter keystrokes, tree render (ms).
//
// Environment: FJORD_UI_URL, FJORD_UI_PASSWORD (admin), FJORD_BENCH_TOTAL (10000),
// FJORD_BENCH_PREFIX (app names are PREFIX + 5 digits, 10000..), FJORD_BENCH_BIG (the app of
// many objects), FJORD_BENCH_BIG_NODES (its object count), FJORD_UI_SCREENSHOTS.

import { join } from 'node:path';
import { env, fail, launchBrowser, screenshotDir, step, tid } from './lib.mjs';

const base = env('FJORD_UI_URL').replace(/\/$/, '');
const password = env('FJORD_UI_PASSWORD');
const total = Number(env('FJORD_BENCH_TOTAL', '10000'));
const prefix = env('FJORD_BENCH_PREFIX', 'bench-');
const big = env('FJORD_BENCH_BIG');
const bigNodes = Number(env('FJORD_BENCH_BIG_NODES', '2000'));
const shots = screenshotDir();
const WAIT = 120000;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// Records, from the start of every document, when each test id's element count or text changed.
function recorder() {
  window.__marks = [];
  const seen = {};
  const check = () => {
    const t = performance.now();
    const count = document.querySelector('[data-testid="app-count"]')?.textContent ?? '';
    const nodes = document.querySelectorAll('[data-testid="tree-node"]').length;
    if (seen.count !== count) { seen.count = count; window.__marks.push({ t, what: 'count', v: count }); }
    if (seen.nodes !== nodes) { seen.nodes = nodes; window.__marks.push({ t, what: 'nodes', v: nodes }); }
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, characterData: true });
}

const browser = await launchBrowser();
const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
await context.addInitScript(recorder);
const page = await context.newPage();
const result = { total, bigNodes };

await step(page, 'log in through the API', async () => {
  const r = await context.request.post(`${base}/api/v1/session`, {
    data: { username: 'admin', password },
    headers: { 'Content-Type': 'application/json' },
  });
  if (r.status() !== 200) throw new Error(`POST /api/v1/session: ${r.status()}`);
  await page.goto(`${base}/login`);
});

async function firstLoad(run) {
  await page.goto(`${base}/applications`, { waitUntil: 'commit' });
  await page.waitForFunction(
    ([sel, n]) => {
      const m = /\d[\d,]*/.exec(document.querySelector(sel)?.textContent ?? '');
      return m && Number(m[0].replace(/,/g, '')) === n;
    },
    [tid('app-count'), total],
    { timeout: WAIT, polling: 'raf' },
  );
  // Navigation start is performance's time origin; the mark is when the count first read N.
  const t = await page.evaluate((n) => {
    const m = window.__marks.find((x) => x.what === 'count' && Number((/\d[\d,]*/.exec(x.v) ?? ['0'])[0].replace(/,/g, '')) === n);
    return m ? m.t : performance.now();
  }, total);
  if (run === 0) await page.screenshot({ path: join(shots, 'bench-list.png') });
  return t;
}

await step(page, `list first load with ${total} apps`, async () => {
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push(await firstLoad(i));
  result.listFirstLoadMs = runs[0];
  result.listLoadRunsMs = runs;
});

await step(page, 'filter keystrokes', async () => {
  // Digits after "PREFIX1" narrow 10000 -> 1000 -> 100 -> 10 -> 1; backspace widens again: every
  // keystroke changes the count, so each one waits for a real update.
  const names = Array.from({ length: total }, (_, i) => `${prefix}${10000 + i}`);
  const digits = ['7342', '2815', '0963'];
  const queries = [];
  for (const d of digits) {
    for (let k = 1; k <= 4; k++) queries.push(`${prefix}1${d.slice(0, k)}`);
    for (let k = 3; k >= 0; k--) queries.push(`${prefix}1${d.slice(0, k)}`);
  }
  await page.fill(tid('app-search'), `${prefix}1`);
  const times = [];
  for (const q of queries.slice(0, 20)) {
    const expected = names.filter((n) => n.includes(q)).length;
    const ms = await page.evaluate(async ([sel, countSel, q, expected]) => {
      const input = document.querySelector(sel);
      const count = () => {
        const m = /\d[\d,]*/.exec(document.querySelector(countSel)?.textContent ?? '');
        return m ? Number(m[0].replace(/,/g, '')) : NaN;
      };
      const t0 = performance.now();
      input.value = q;
      input.dispatchEvent(new Event('input', { bubbles: true }));
      await new Promise((resolve, reject) => {
        if (count() === expected) return resolve();
        const obs = new MutationObserver(() => {
          if (count() === expected) { obs.disconnect(); resolve(); }
        });
        obs.observe(document.body, { childList: true, subtree: true, characterData: true });
        setTimeout(() => { obs.disconnect(); reject(new Error(`count ${count()} != ${expected} for ${q}`)); }, 10000);
      });
      await new Promise((r) => requestAnimationFrame(() => r()));
      return performance.now() - t0;
    }, [tid('app-search'), tid('app-count'), q, expected]);
    const rows = await page.locator(tid('app-row')).count();
    if (expected <= 10 && rows !== expected) throw new Error(`${q}: ${rows} rows for ${expected} matches`);
    times.push(ms);
  }
  result.keystrokeMedianMs = median(times);
  result.keystrokeMaxMs = Math.max(...times);
  result.keystrokeMs = times.map((x) => Math.round(x * 10) / 10);
});

await step(page, `tree of ${big}`, async () => {
  const runs = [];
  for (let i = 0; i < 2; i++) {
    await page.goto(`${base}/applications/argocd/${encodeURIComponent(big)}`, { waitUntil: 'commit' });
    await page.waitForSelector(tid('tree-node'), { timeout: WAIT });
    // Done when the node count has not changed for 1.5 s (the UI may show fewer than all nodes
    // at once: grouped or windowed); the time is that of the last change.
    let last = -1;
    let stableSince = Date.now();
    while (Date.now() - stableSince < 1500) {
      const n = await page.locator(tid('tree-node')).count();
      if (n !== last) { last = n; stableSince = Date.now(); }
      await page.waitForTimeout(100);
    }
    const mark = await page.evaluate(() => {
      const m = window.__marks.filter((x) => x.what === 'nodes');
      return m[m.length - 1];
    });
    runs.push({ ms: mark.t, nodes: mark.v });
    if (i === 0) await page.screenshot({ path: join(shots, 'bench-tree.png') });
  }
  // The tree may be windowed: scroll its box to the end and require the last object there.
  const lastName = `cm-${String(bigNodes - 1).padStart(4, '0')}`;
  await page.evaluate(() => {
    let el = document.querySelector('[data-testid="tree-node"]');
    while (el && !(el.scrollHeight > el.clientHeight + 1 && /auto|scroll/.test(getComputedStyle(el).overflowY))) {
      el = el.parentElement;
    }
    if (el) el.scrollTop = el.scrollHeight;
    else window.scrollTo(0, document.body.scrollHeight);
  });
  await page.waitForSelector(tid('tree-node', `[data-name="${lastName}"]`), { timeout: 10000 })
    .catch(() => { throw new Error(`${lastName} never appeared in the tree after scrolling to its end`); });
  result.treeLastNodeReached = lastName;
  result.treeRenderMs = runs[0].ms;
  result.treeRuns = runs;
  result.treeNodesShown = runs[0].nodes;
});

await browser.close();
console.log(JSON.stringify(result));
if (!Number.isFinite(result.listFirstLoadMs)) fail('no list figure');
