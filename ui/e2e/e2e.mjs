// fjord's browser test: the web UI in Debian's headless Chromium, against a running `fjord server`
// whose cluster runs `fjord controller`. Each step asserts and stops the script with a message
// naming it (exit 1). crates/cli/tests/ui_browser_e2e.rs prepares the cluster and runs this.
//
// Environment:
//   FJORD_UI_URL             the server (http://127.0.0.1:PORT)
//   FJORD_UI_PASSWORD        admin's password
//   FJORD_UI_VIEWER, FJORD_UI_VIEWER_PASSWORD   a read-only local account
//   FJORD_UI_APP             the real app (namespace FJORD_UI_APP_NAMESPACE, default argocd)
//   FJORD_UI_APP_TOTAL       how many apps exist (the search must narrow them to 1)
//   FJORD_UI_DEPLOYMENT      NAMESPACE/NAME of the app's Deployment (kubectl edits it)
//   FJORD_UI_ROLLBACK_ID     the history id to roll back to; FJORD_UI_ROLLBACK_REPLICAS the
//                            Deployment's replicas at that revision
//   FJORD_UI_SCREENSHOTS     where the screenshots go
//   KUBECONFIG               the cluster of kubectl

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { env, fail, launchBrowser, screenshotDir, step, tid } from './lib.mjs';

const base = env('FJORD_UI_URL').replace(/\/$/, '');
const password = env('FJORD_UI_PASSWORD');
const viewer = env('FJORD_UI_VIEWER', 'viewer');
const viewerPassword = env('FJORD_UI_VIEWER_PASSWORD');
const app = env('FJORD_UI_APP');
const appNs = env('FJORD_UI_APP_NAMESPACE', 'argocd');
const total = Number(env('FJORD_UI_APP_TOTAL', '1000'));
const [deployNs, deployName] = env('FJORD_UI_DEPLOYMENT').split('/');
const rollbackId = env('FJORD_UI_ROLLBACK_ID', '0');
const rollbackReplicas = env('FJORD_UI_ROLLBACK_REPLICAS', '1');
const shots = screenshotDir();
const WAIT = Number(env('FJORD_UI_TIMEOUT_MS', '60000'));

const appPath = `/applications/${encodeURIComponent(appNs)}/${encodeURIComponent(app)}`;

function shot(page, name) {
  return page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

function kubectl(args) {
  try {
    return execFileSync('kubectl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`kubectl ${args.join(' ')}: ${e.stderr || e.message}`);
  }
}

async function textOf(page, id) {
  return (await page.locator(tid(id)).first().textContent({ timeout: WAIT })) ?? '';
}

/** Waits until the element's text matches `re` (no reload: the page must update itself). */
async function waitText(page, id, re, what) {
  try {
    await page.waitForFunction(
      ([sel, src]) => {
        const el = document.querySelector(sel);
        return !!el && new RegExp(src, 'i').test(el.textContent ?? '');
      },
      [tid(id), re.source],
      { timeout: WAIT },
    );
  } catch {
    const now = await page.locator(tid(id)).first().textContent({ timeout: 1000 }).catch(() => '<absent>');
    throw new Error(`${what}: ${id} never matched /${re.source}/ (it shows ${JSON.stringify(now)})`);
  }
}

async function login(page, user, pass) {
  await page.goto(`${base}/login`);
  await page.fill(tid('login-username'), user);
  await page.fill(tid('login-password'), pass);
  await page.click(tid('login-submit'));
  await page.waitForURL(/\/applications/, { timeout: WAIT });
}

async function adminSession(browser) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on('dialog', (d) => d.accept());

  await step(page, 'bad password shows login-error', async () => {
    await page.goto(`${base}/applications`);
    await page.waitForURL(/\/login/, { timeout: WAIT });
    await page.waitForSelector(tid('login-username'), { timeout: WAIT });
    await shot(page, '01-login');
    await page.fill(tid('login-username'), 'admin');
    await page.fill(tid('login-password'), `${password}-wrong`);
    await page.click(tid('login-submit'));
    await page.waitForSelector(tid('login-error'), { state: 'visible', timeout: WAIT });
    if (!/\/login/.test(page.url())) throw new Error(`left the login page: ${page.url()}`);
  });
  await step(page, 'good password reaches /applications', async () => {
    await page.fill(tid('login-password'), password);
    await page.click(tid('login-submit'));
    await page.waitForURL(/\/applications/, { timeout: WAIT });
    const n = String(total).replace(/\B(?=(\d{3})+$)/g, ',?');
    await waitText(page, 'app-count', new RegExp(`(^|\\D)${n}(\\D|$)`), 'all apps listed');
  });
  await step(page, `find ${app} among ${total} apps`, async () => {
    await page.click(tid('view-tiles'));
    await shot(page, '02-list-tiles');
    await page.click(tid('view-table'));
    await shot(page, '03-list-table');
    await page.fill(tid('app-search'), app);
    await page.waitForFunction(
      (sel) => /^\D*1\D*$/.test(document.querySelector(sel)?.textContent ?? ''),
      tid('app-count'),
      { timeout: WAIT },
    );
    const rows = page.locator(tid('app-row'));
    const n = await rows.count();
    if (n !== 1) throw new Error(`app-count says 1 but ${n} app-row elements are shown`);
    const name = await rows.first().getAttribute('data-app');
    if (name !== app) throw new Error(`the one row is ${name}, not ${app}`);
    await shot(page, '04-list-search');
  });
  await step(page, 'open the app', async () => {
    await page.locator(tid('app-row', `[data-app="${app}"]`)).first().click();
    await page.waitForURL((u) => u.pathname === appPath, { timeout: WAIT });
    await waitText(page, 'app-sync-status', /\bSynced\b/, 'app synced before the edit');
    await page.waitForSelector(tid('tree-node', `[data-kind="Deployment"][data-name="${deployName}"]`), { timeout: WAIT });
    await shot(page, '05-app-tree');
  });
  await step(page, 'kubectl scale and patch turn the app OutOfSync without reload', async () => {
    const loads = [];
    page.on('load', () => loads.push(page.url()));
    kubectl(['scale', 'deployment', deployName, '-n', deployNs, '--replicas=5']);
    kubectl(['patch', 'deployment', deployName, '-n', deployNs, '--type', 'merge',
      '-p', '{"spec":{"revisionHistoryLimit":3}}']);
    await waitText(page, 'app-sync-status', /OutOfSync/, 'drift seen live');
    if (loads.length) throw new Error(`the page reloaded: ${loads.join(', ')}`);
  });
  await step(page, 'the diff shows the edited fields and their managers', async () => {
    await page.locator(tid('tree-node', `[data-kind="Deployment"][data-name="${deployName}"]`)).first().click();
    await page.waitForSelector(tid('resource-panel'), { timeout: WAIT });
    await page.click(tid('tab-diff'));
    await waitText(page, 'diff-view', /replicas/, 'diff of replicas');
    await waitText(page, 'diff-view', /revisionHistoryLimit/, 'diff of revisionHistoryLimit');
    await page.waitForFunction(
      (sel) => {
        const t = [...document.querySelectorAll(sel)].map((e) => e.textContent ?? '');
        // `kubectl scale` has no --field-manager: the API server names it after kubectl's user
        // agent, "kubectl" (a kubectl that sends one may say "kubectl-scale").
        return t.some((x) => /replicas/.test(x) && /kubectl(-scale)?(?!-)\b/.test(x))
          && t.some((x) => /revisionHistoryLimit/.test(x) && /kubectl-patch/.test(x));
      },
      tid('drift-field'),
      { timeout: WAIT },
    ).catch(async () => {
      const t = await page.locator(tid('drift-field')).allTextContents();
      throw new Error(`drift-field should name replicas/kubectl and revisionHistoryLimit/kubectl-patch; shows ${JSON.stringify(t)}`);
    });
    await shot(page, '06-diff-panel');
  });
  await step(page, 'Sync turns the app Synced', async () => {
    await page.keyboard.press('Escape');
    await page.click(tid('btn-sync'));
    await page.click(tid('sync-confirm'));
    await waitText(page, 'app-sync-status', /\bSynced\b/, 'synced after Sync');
    const replicas = kubectl(['get', 'deployment', deployName, '-n', deployNs, '-o', 'jsonpath={.spec.replicas}']);
    if (replicas.trim() === '5') throw new Error('Synced shown but the Deployment still has 5 replicas');
    await shot(page, '07-after-sync');
  });
  await step(page, `roll back to history entry ${rollbackId}`, async () => {
    if (!(await page.locator(tid('history-row')).first().isVisible().catch(() => false))) {
      await page.getByRole('button', { name: /history/i }).first().click();
    }
    await page.waitForSelector(tid('history-row'), { timeout: WAIT });
    const rows = await page.locator(tid('history-row')).count();
    if (rows < 2) throw new Error(`${rows} history-row, at least 2 expected`);
    await shot(page, '08-history');
    await page.click(tid('btn-rollback', `[data-id="${rollbackId}"]`));
    const confirm = page.locator(`${tid('rollback-confirm')}, ${tid('sync-confirm')}`);
    if (await confirm.first().isVisible({ timeout: 2000 }).catch(() => false)) {
      await confirm.first().click();
    }
    const deadline = Date.now() + WAIT;
    let replicas = '';
    while (Date.now() < deadline) {
      replicas = kubectl(['get', 'deployment', deployName, '-n', deployNs, '-o', 'jsonpath={.spec.replicas}']).trim();
      if (replicas === rollbackReplicas) break;
      await page.waitForTimeout(500);
    }
    if (replicas !== rollbackReplicas) {
      throw new Error(`after rollback the Deployment has ${replicas} replicas, not ${rollbackReplicas}`);
    }
    // The page shows the rollback live: a new history entry and the operation's success.
    await page.waitForFunction(
      ([sel, n]) => document.querySelectorAll(sel).length > n,
      [tid('history-row'), rows],
      { timeout: WAIT },
    ).catch(() => { throw new Error(`history still shows ${rows} rows after the rollback`); });
    await waitText(page, 'operation-state', /Succeeded/, 'rollback operation');
    await shot(page, '09-after-rollback');
  });
  await context.close();
}

async function viewerSession(browser) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await step(page, 'read-only user sees no Sync button', async () => {
    await login(page, viewer, viewerPassword);
    const canI = page.waitForResponse((r) => r.url().includes('/api/v1/account/can-i/'), { timeout: WAIT });
    await page.goto(`${base}${appPath}`);
    const resp = await canI;
    const body = await resp.text();
    if (!/no/.test(body)) throw new Error(`can-i answered ${resp.status()} ${body} for the viewer`);
    await page.waitForSelector(tid('app-sync-status'), { timeout: WAIT });
    await page.waitForTimeout(500);
    const n = await page.locator(tid('btn-sync')).count();
    const visible = n > 0 && (await page.locator(tid('btn-sync')).first().isVisible());
    if (visible) throw new Error('btn-sync is shown to the read-only user');
    await shot(page, '10-viewer-app');
  });
  await step(page, 'read-only user gets 403 from POST sync', async () => {
    const status = await page.evaluate(async (name) => {
      const r = await fetch(`/api/v1/applications/${encodeURIComponent(name)}/sync`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
        credentials: 'same-origin',
      });
      return r.status;
    }, app);
    if (status !== 403) throw new Error(`POST sync as the viewer answered ${status}, not 403`);
  });
  await context.close();
}

const browser = await launchBrowser();
try {
  const only = env('FJORD_UI_ONLY', 'all');
  if (only === 'all' || only === 'admin') await adminSession(browser);
  if (only === 'all' || only === 'viewer') await viewerSession(browser);
} catch (e) {
  fail(e.stack ?? String(e));
} finally {
  await browser.close().catch(() => {});
}
console.log(`ok: all steps; screenshots in ${shots}`);
