// The applications list: tiles or table (virtualized), client-side filters and search, status
// counts, live updates from the SSE stream batched every 500 ms.

import { api, qs, Stream, type Application } from './api';
import { badge, debounce, h, replace } from './dom';
import { appPath, navigate } from './router';
import { VirtualList } from './virtual';
import { setClusterStatus } from './main';
import type { Page } from './main';

/** One app as the list needs it (flat, with a lower-cased search text). */
interface Row {
  key: string;
  name: string;
  namespace: string;
  project: string;
  sync: string;
  health: string;
  healthMessage: string;
  cluster: string;
  destNamespace: string;
  repo: string;
  path: string;
  labels: Record<string, string>;
  operation: string;
  hay: string;
}

const LIST_FIELDS = [
  'metadata.resourceVersion',
  'items.metadata.name',
  'items.metadata.namespace',
  'items.metadata.labels',
  'items.metadata.creationTimestamp',
  'items.metadata.deletionTimestamp',
  'items.spec',
  'items.status.sync.status',
  'items.status.health',
  'items.status.operationState.phase',
].join(',');

function toRow(a: Application): Row {
  const m = a.metadata;
  const src = a.spec?.source ?? a.spec?.sources?.[0] ?? {};
  const dest = a.spec?.destination ?? {};
  const cluster = dest.name || dest.server || '';
  const row: Row = {
    key: `${m.namespace ?? ''}/${m.name}`,
    name: m.name,
    namespace: m.namespace ?? '',
    project: a.spec?.project || 'default',
    sync: a.status?.sync?.status || 'Unknown',
    health: a.status?.health?.status || 'Unknown',
    healthMessage: a.status?.health?.message || '',
    cluster,
    destNamespace: dest.namespace || '',
    repo: src.repoURL || '',
    path: src.path || ('chart' in src ? String((src as { chart?: string }).chart ?? '') : ''),
    labels: m.labels ?? {},
    operation: (a.status as { operationState?: { phase?: string } } | undefined)?.operationState?.phase || '',
    hay: '',
  };
  row.hay = [row.name, row.namespace, row.project, row.repo, row.path, row.cluster, row.destNamespace].join('\u0000').toLowerCase();
  return row;
}

/** A parsed label selector term. */
type Term = { key: string; op: '=' | '!=' | 'exists' | '!exists'; value?: string };

/** Parses `a=b, c!=d, e, !f` (set-based `in`/`notin` also accepted). */
function parseSelector(text: string): Term[] {
  const terms: Term[] = [];
  const parts = text.match(/[^,(]+(\([^)]*\))?/g) ?? [];
  for (const raw of parts) {
    const p = raw.trim();
    if (!p) continue;
    let m: RegExpExecArray | null;
    if ((m = /^([^!=\s]+)\s*!=\s*(.*)$/.exec(p))) terms.push({ key: m[1], op: '!=', value: m[2].trim() });
    else if ((m = /^([^!=\s]+)\s*==?\s*(.*)$/.exec(p))) terms.push({ key: m[1], op: '=', value: m[2].trim() });
    else if ((m = /^([^\s]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(p))) {
      const values = m[3].split(',').map((v) => v.trim());
      terms.push({ key: m[1], op: m[2] === 'in' ? '=' : '!=', value: `\u0001${values.join('\u0001')}` });
    } else if (p.startsWith('!')) terms.push({ key: p.slice(1).trim(), op: '!exists' });
    else terms.push({ key: p, op: 'exists' });
  }
  return terms;
}

function matchTerm(labels: Record<string, string>, t: Term): boolean {
  const v = labels[t.key];
  const eq = (x: string | undefined) => (t.value?.startsWith('\u0001') ? t.value.slice(1).split('\u0001').includes(x ?? '\u0002') : x === t.value);
  switch (t.op) {
    case 'exists': return v !== undefined;
    case '!exists': return v === undefined;
    case '=': return eq(v);
    case '!=': return !eq(v);
  }
}

function select(testid: string, label: string, onchange: () => void): HTMLSelectElement {
  return h('select', { testid, 'aria-label': label, title: label, onchange }, h('option', { value: '' }, `${label}: all`));
}

function setOptions(sel: HTMLSelectElement, label: string, values: string[]): void {
  const cur = sel.value;
  const sig = values.join('\u0000');
  if (sel.dataset.sig === sig) return;
  sel.dataset.sig = sig;
  replace(sel, h('option', { value: '' }, `${label}: all`), values.map((v) => h('option', { value: v }, v || '(none)')));
  sel.value = values.includes(cur) ? cur : '';
}

const SYNC_STATES = ['Synced', 'OutOfSync', 'Unknown'];
const HEALTH_STATES = ['Healthy', 'Progressing', 'Degraded', 'Suspended', 'Missing', 'Unknown'];

/** Builds the list page. */
export function listPage(): Page {
  const rows = new Map<string, Row>();
  let sorted: Row[] = [];
  let filtered: Row[] = [];
  let view = localStorage.getItem('fjord.view') === 'table' ? 'table' : 'tiles';
  const pending = new Map<string, { type: string; app: Application }>();

  const search = h('input', { type: 'search', testid: 'app-search', placeholder: 'Search apps  ( / )', 'aria-label': 'Search applications', class: 'search' });
  const fProject = select('filter-project', 'Project', () => refilter());
  const fSync = select('filter-sync', 'Sync', () => refilter());
  const fHealth = select('filter-health', 'Health', () => refilter());
  const fCluster = select('filter-cluster', 'Cluster', () => refilter());
  const fNamespace = select('filter-namespace', 'Namespace', () => refilter());
  setOptions(fSync, 'Sync', SYNC_STATES);
  setOptions(fHealth, 'Health', HEALTH_STATES);
  const fLabel = h('input', { testid: 'filter-label', placeholder: 'Labels: app=web,tier!=db', 'aria-label': 'Label selector', class: 'labels' });
  const count = h('span', { testid: 'app-count', class: 'count' }, '0');
  const counts = h('div', { testid: 'status-counts', class: 'counts', 'aria-label': 'Counts per status' });
  const loading = h('p', { class: 'muted pad' }, 'Loading applications…');

  const tiles = new VirtualList<Row>({ rowHeight: 132, minItemWidth: 300, render: renderTile, activate: open, className: 'tiles', label: 'Applications' });
  const table = new VirtualList<Row>({ rowHeight: 38, render: renderRow, activate: open, className: 'table', label: 'Applications' });
  const tableHead = h('div', { class: 'trow thead', role: 'row' }, ['Name', 'Project', 'Sync', 'Health', 'Cluster', 'Namespace', 'Source'].map((c) => h('span', { role: 'columnheader' }, c)));
  const body = h('div', { class: 'list-body' });

  const btnTiles = h('button', { class: 'btn', testid: 'view-tiles', onclick: () => setView('tiles') }, '▦ Tiles');
  const btnTable = h('button', { class: 'btn', testid: 'view-table', onclick: () => setView('table') }, '☰ Table');

  function open(r: Row): void {
    navigate(appPath(r.namespace, r.name));
  }

  function renderTile(r: Row): HTMLElement {
    return h(
      'div',
      { class: `tile st-border-${r.health}`, testid: 'app-row', 'data-app': r.name, role: 'row', 'aria-label': `${r.name}: ${r.sync}, ${r.health}` },
      h('div', { class: 'tile-title' }, h('a', { href: appPath(r.namespace, r.name), tabindex: -1 }, r.name)),
      h('div', { class: 'tile-badges' }, badge('sync', r.sync), badge('health', r.health, undefined, r.healthMessage), r.operation ? h('span', { class: 'muted' }, r.operation) : null),
      h('div', { class: 'kv' }, h('span', null, 'Project'), r.project),
      h('div', { class: 'kv' }, h('span', null, 'Destination'), `${r.cluster}${r.destNamespace ? ` / ${r.destNamespace}` : ''}`),
      h('div', { class: 'kv ellipsis', title: r.repo }, h('span', null, 'Source'), `${r.repo}${r.path ? ` ${r.path}` : ''}`),
    );
  }

  function renderRow(r: Row): HTMLElement {
    return h(
      'div',
      { class: 'trow', testid: 'app-row', 'data-app': r.name, role: 'row' },
      h('span', { class: 'ellipsis' }, h('a', { href: appPath(r.namespace, r.name), tabindex: -1 }, r.name)),
      h('span', { class: 'ellipsis' }, r.project),
      h('span', null, badge('sync', r.sync)),
      h('span', null, badge('health', r.health, undefined, r.healthMessage)),
      h('span', { class: 'ellipsis', title: r.cluster }, r.cluster),
      h('span', { class: 'ellipsis' }, r.destNamespace),
      h('span', { class: 'ellipsis', title: r.repo }, `${r.repo}${r.path ? ` ${r.path}` : ''}`),
    );
  }

  function setView(v: string): void {
    view = v;
    localStorage.setItem('fjord.view', v);
    btnTiles.setAttribute('aria-pressed', String(v === 'tiles'));
    btnTable.setAttribute('aria-pressed', String(v === 'table'));
    if (v === 'tiles') replace(body, tiles.el);
    else replace(body, h('div', { class: 'table-wrap' }, tableHead, table.el));
    (v === 'tiles' ? tiles : table).setItems(filtered);
  }

  function refilter(): void {
    const q = search.value.trim().toLowerCase();
    const project = fProject.value;
    const sync = fSync.value;
    const health = fHealth.value;
    const cluster = fCluster.value;
    const ns = fNamespace.value;
    const terms = parseSelector(fLabel.value);
    const out: Row[] = [];
    for (const r of sorted) {
      if (project && r.project !== project) continue;
      if (sync && r.sync !== sync) continue;
      if (health && r.health !== health) continue;
      if (cluster && r.cluster !== cluster) continue;
      if (ns && r.destNamespace !== ns) continue;
      if (q && !r.hay.includes(q)) continue;
      if (terms.length && !terms.every((t) => matchTerm(r.labels, t))) continue;
      out.push(r);
    }
    filtered = out;
    count.textContent = String(out.length);
    renderCounts();
    (view === 'tiles' ? tiles : table).setItems(filtered);
  }

  function renderCounts(): void {
    const s: Record<string, number> = {};
    const hl: Record<string, number> = {};
    for (const r of filtered) {
      s[r.sync] = (s[r.sync] ?? 0) + 1;
      hl[r.health] = (hl[r.health] ?? 0) + 1;
    }
    const chip = (kind: 'sync' | 'health', st: string, n: number, sel: HTMLSelectElement) =>
      h('button', { class: 'chip', 'data-status': st, title: `Show only ${st}`, onclick: () => { sel.value = sel.value === st ? '' : st; refilter(); } }, badge(kind, st), ` ${n}`);
    replace(
      counts,
      SYNC_STATES.filter((x) => s[x]).map((x) => chip('sync', x, s[x], fSync)),
      h('span', { class: 'sep' }),
      HEALTH_STATES.filter((x) => hl[x]).map((x) => chip('health', x, hl[x], fHealth)),
    );
  }

  function rebuild(): void {
    sorted = [...rows.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.namespace < b.namespace ? -1 : 1));
    const uniq = (f: (r: Row) => string) => [...new Set(sorted.map(f))].sort();
    setOptions(fProject, 'Project', uniq((r) => r.project));
    setOptions(fCluster, 'Cluster', uniq((r) => r.cluster));
    setOptions(fNamespace, 'Namespace', uniq((r) => r.destNamespace));
    refilter();
  }

  const stream = new Stream({
    prepare: async () => {
      const list = await api<{ metadata?: { resourceVersion?: string }; items?: Application[] }>(`/api/v1/applications${qs({ fields: LIST_FIELDS })}`);
      rows.clear();
      for (const a of list.items ?? []) if (a?.metadata?.name) { const r = toRow(a); rows.set(r.key, r); }
      loading.remove();
      rebuild();
      return `/api/v1/stream/applications${qs({ resourceVersion: list.metadata?.resourceVersion })}`;
    },
    onData: (d) => {
      const ev = (d as { result?: { type?: string; application?: Application } }).result;
      if (!ev?.application?.metadata?.name) return;
      const key = `${ev.application.metadata.namespace ?? ''}/${ev.application.metadata.name}`;
      pending.set(key, { type: ev.type ?? 'MODIFIED', app: ev.application });
    },
    onState: (ok, err) => {
      if (!ok && err && err.status === 0) setClusterStatus('The fjord server is unreachable: retrying.');
      if (!ok && err) loading.textContent = `Could not load the applications: ${err.message} (retrying)`;
      if (ok) loading.remove();
    },
  });

  const flush = window.setInterval(() => {
    if (!pending.size) return;
    for (const [key, ev] of pending) {
      if (ev.type === 'DELETED') rows.delete(key);
      else rows.set(key, toRow(ev.app));
    }
    pending.clear();
    rebuild();
  }, 500);

  const onSearch = debounce(refilter, 30);
  search.addEventListener('input', onSearch);
  fLabel.addEventListener('input', debounce(refilter, 150));
  const onSlash = (e: KeyboardEvent) => {
    const t = e.target as HTMLElement;
    if (e.key === '/' && !/^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)) {
      e.preventDefault();
      search.focus();
      search.select();
    }
  };
  document.addEventListener('keydown', onSlash);

  const el = h(
    'section',
    { class: 'list-page' },
    h('div', { class: 'toolbar' }, h('h1', null, 'Applications'), h('span', { class: 'muted' }, count, ' shown'), h('span', { class: 'spacer' }), btnTiles, btnTable),
    h('div', { class: 'filters' }, search, fProject, fSync, fHealth, fCluster, fNamespace, fLabel),
    counts,
    loading,
    body,
  );
  setView(view);
  return {
    el,
    destroy() {
      stream.close();
      clearInterval(flush);
      document.removeEventListener('keydown', onSlash);
      tiles.destroy();
      table.destroy();
    },
  };
}
