// Shared helpers of fjord's browser tests and benchmark: Debian's Chromium through playwright-core
// (never a browser download), settings from the environment, steps that fail with a clear message.

import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The flags Chromium needs on these machines (closed network, root, no GPU). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** An environment variable, or `fallback`; a missing required one stops the script. */
export function env(name, fallback) {
  const v = process.env[name];
  if (v !== undefined && v !== '') return v;
  if (fallback !== undefined) return fallback;
  fail(`environment variable ${name} is required`);
}

/** Stops the script with exit code 1 and `message` on stderr. */
export function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

/** Launches headless Chromium with a fresh, throw-away profile. */
export async function launch() {
  const executablePath = env('FJORD_CHROMIUM', '/usr/bin/chromium');
  const profile = mkdtempSync(join(tmpdir(), 'fjord-chromium-'));
  let browser;
  try {
    browser = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1400, height: 900 },
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    fail(`starting Chromium ${executablePath}: ${e.message}`);
  }
  const close = async () => {
    await browser.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  return { context: browser, close };
}

/** Launches a browser whose contexts are separate sessions (for two users). */
export async function launchBrowser() {
  const executablePath = env('FJORD_CHROMIUM', '/usr/bin/chromium');
  try {
    return await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  } catch (e) {
    fail(`starting Chromium ${executablePath}: ${e.message}`);
  }
}

/** The screenshot folder (created). */
export function screenshotDir() {
  const dir = env('FJORD_UI_SCREENSHOTS', 'ui-screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Runs one named step; a failure names the step, saves a screenshot and stops the script. */
export async function step(page, name, fn) {
  const started = Date.now();
  try {
    const out = await fn();
    console.log(`ok: ${name} (${Date.now() - started} ms)`);
    return out;
  } catch (e) {
    const shot = join(screenshotDir(), `FAILED-${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
    await page?.screenshot({ path: shot, fullPage: true }).catch(() => {});
    let url = '';
    try { url = page?.url() ?? ''; } catch { /* closed */ }
    fail(`${name}: ${e.message}\n  at ${url}\n  screenshot: ${shot}`);
  }
}

/** `[data-testid=id]`, optionally with more attribute selectors. */
export function tid(id, extra = '') {
  return `[data-testid="${id}"]${extra}`;
}

/** The first integer in a text ("10,000 apps" -> 10000), or NaN. */
export function firstInt(text) {
  const m = /\d[\d,]*/.exec(text ?? '');
  return m ? Number(m[0].replace(/,/g, '')) : NaN;
}
