// The resource panel: Diff (desired vs live, with drift forensics), Live manifest, Events.

import { api, qs, type TreeNode } from './api';
import { h, replace, shortTime } from './dom';
import { diffLines, renderDiff } from './diff';
import { parseState, toYaml } from './yaml';

/** A managed-resources item (the states are JSON strings). */
interface ResourceDiff {
  group?: string;
  kind: string;
  namespace?: string;
  name: string;
  normalizedLiveState?: string;
  predictedLiveState?: string;
  liveState?: string;
  targetState?: string;
  modified?: boolean;
  drift?: { path: string; manager?: string; operation?: string; time?: string }[];
}

interface EventItem {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string;
  eventTime?: string;
  firstTimestamp?: string;
  metadata?: { creationTimestamp?: string };
  source?: { component?: string };
}

type Tab = 'diff' | 'live' | 'events';

/** Opens the panel for `node` of app `app` (in `appNamespace`). `onClose` runs on Escape/close. */
export function resourcePanel(app: string, appNamespace: string, node: TreeNode, onClose: () => void): { el: HTMLElement; destroy(): void } {
  const base = `/api/v1/applications/${encodeURIComponent(app)}`;
  const content = h('div', { class: 'panel-content' });
  let tab: Tab = 'diff';
  let diffMode: 'unified' | 'split' = (localStorage.getItem('fjord.diffMode') as 'unified' | 'split') || 'unified';
  const tabs: Record<Tab, HTMLButtonElement> = {
    diff: h('button', { class: 'tab', role: 'tab', testid: 'tab-diff', onclick: () => show('diff') }, 'Diff'),
    live: h('button', { class: 'tab', role: 'tab', testid: 'tab-live', onclick: () => show('live') }, 'Live manifest'),
    events: h('button', { class: 'tab', role: 'tab', testid: 'tab-events', onclick: () => show('events') }, 'Events'),
  };
  let seq = 0;

  async function show(t: Tab): Promise<void> {
    tab = t;
    const my = ++seq;
    for (const [k, b] of Object.entries(tabs)) b.setAttribute('aria-selected', String(k === t));
    replace(content, h('p', { class: 'muted pad' }, 'Loading…'));
    try {
      const el = t === 'diff' ? await diffTab() : t === 'live' ? await liveTab() : await eventsTab();
      if (my === seq) replace(content, el);
    } catch (e) {
      if (my === seq) replace(content, h('p', { class: 'error pad', role: 'alert' }, (e as Error).message));
    }
  }

  async function diffTab(): Promise<HTMLElement> {
    const res = await api<{ items?: ResourceDiff[] }>(
      `${base}/managed-resources${qs({ appNamespace, group: node.group ?? '', kind: node.kind, namespace: node.namespace ?? '', name: node.name, version: node.version })}`,
    );
    const item = (res.items ?? []).find((i) => i.kind === node.kind && i.name === node.name) ?? res.items?.[0];
    if (!item) return h('p', { class: 'muted pad' }, 'This resource is not managed by the app (it has no desired state), so there is nothing to diff. See the live manifest.');
    const live = parseState(item.normalizedLiveState ?? item.liveState);
    const want = parseState(item.predictedLiveState ?? item.targetState);
    const a = live ? toYaml(live) : [];
    const b = want ? toYaml(want) : [];
    const drift = item.drift ?? [];
    const body = h('div', { class: 'diff-wrap' });
    const draw = () => replace(body, renderDiff(diffLines(a, b), diffMode));
    const toggle = h('button', {
      class: 'btn small',
      testid: 'diff-mode',
      onclick: () => {
        diffMode = diffMode === 'unified' ? 'split' : 'unified';
        localStorage.setItem('fjord.diffMode', diffMode);
        toggle.textContent = diffMode === 'unified' ? 'Side by side' : 'Unified';
        draw();
      },
    }, diffMode === 'unified' ? 'Side by side' : 'Unified');
    draw();
    return h(
      'div',
      null,
      drift.length
        ? h('div', { class: 'drift' }, h('h3', null, 'Drift: who changed what'), h('ul', null, drift.map((d) =>
            h('li', { testid: 'drift-field', title: d.time ?? '' }, h('code', null, d.path), ' — ', h('strong', null, d.manager || 'unknown manager'), d.operation ? ` (${d.operation})` : '', d.time ? ` at ${shortTime(d.time)}` : ''))))
        : null,
      h('div', { class: 'diff-head' }, h('span', { class: 'muted' }, !live ? 'Missing from the cluster: the whole desired object is new.' : !want ? 'Not in the desired state (would be pruned).' : 'Live (left, −) vs desired (right, +)'), h('span', { class: 'spacer' }), toggle),
      body,
    );
  }

  async function liveTab(): Promise<HTMLElement> {
    const res = await api<{ manifest?: string }>(
      `${base}/resource${qs({ appNamespace, namespace: node.namespace ?? '', resourceName: node.name, version: node.version ?? 'v1', group: node.group ?? '', kind: node.kind })}`,
    );
    const obj = parseState(res.manifest);
    if (!obj) return h('p', { class: 'muted pad' }, 'The object does not exist in the cluster.');
    return h('pre', { class: 'manifest', testid: 'live-manifest', tabindex: 0 }, toYaml(obj).join('\n'));
  }

  async function eventsTab(): Promise<HTMLElement> {
    const res = await api<{ items?: EventItem[] }>(
      `${base}/events${qs({ appNamespace, resourceNamespace: node.namespace ?? '', resourceName: node.name, resourceUID: node.uid ?? '' })}`,
    );
    const items = [...(res.items ?? [])].sort((x, y) => (when(y) > when(x) ? 1 : -1));
    if (!items.length) return h('p', { class: 'muted pad' }, 'No events.');
    return h(
      'table',
      { class: 'events' },
      h('thead', null, h('tr', null, ['Type', 'Reason', 'Message', 'Count', 'Last seen'].map((c) => h('th', null, c)))),
      h('tbody', null, items.map((e) => h('tr', { class: e.type === 'Warning' ? 'warn' : '' }, h('td', null, e.type ?? ''), h('td', null, e.reason ?? ''), h('td', null, e.message ?? ''), h('td', null, e.count ?? 1), h('td', { title: when(e) }, shortTime(when(e)))))),
    );
  }

  const close = h('button', { class: 'btn ghost', 'aria-label': 'Close panel', testid: 'panel-close', onclick: () => onClose() }, '✕');
  const el = h(
    'aside',
    { class: 'panel', testid: 'resource-panel', role: 'dialog', 'aria-label': `${node.kind} ${node.name}` },
    h('div', { class: 'panel-head' }, h('div', null, h('div', { class: 'muted' }, node.kind, node.namespace ? ` · ${node.namespace}` : ''), h('h2', null, node.name)), h('span', { class: 'spacer' }), close),
    h('div', { class: 'tabs', role: 'tablist' }, tabs.diff, tabs.live, tabs.events),
    content,
  );
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape') onClose();
  };
  document.addEventListener('keydown', onKey);
  void show(tab);
  setTimeout(() => tabs.diff.focus(), 0);
  return { el, destroy: () => document.removeEventListener('keydown', onKey) };
}

function when(e: EventItem): string {
  return e.lastTimestamp || e.eventTime || e.firstTimestamp || e.metadata?.creationTimestamp || '';
}
