// The app page: header (sync/health, actions), conditions, operation state, history, the
// resource tree or list with a filter, and the resource panel. Live through two SSE streams.

import { api, ApiError, qs, Stream, type Application, type Tree } from './api';
import { badge, debounce, h, replace, shortTime } from './dom';
import { navigate } from './router';
import { layout, listView, TreeView, type Placed } from './tree';
import { resourcePanel } from './panel';
import { syncDialog, deleteDialog } from './dialogs';
import type { Page } from './main';

/** Builds the page of app `name` in `namespace`. */
export function appPage(namespace: string, name: string): Page {
  const base = `/api/v1/applications/${encodeURIComponent(name)}`;
  const ns = { appNamespace: namespace };
  let app: Application | undefined;
  let tree: Tree = {};
  let canSync: boolean | undefined;
  let view: 'tree' | 'list' = localStorage.getItem('fjord.resView') === 'list' ? 'list' : 'tree';
  let panel: { el: HTMLElement; destroy(): void; key: string } | undefined;

  const header = h('div', { class: 'app-header' });
  const notice = h('div', { class: 'notice', role: 'status', hidden: true });
  const conditions = h('div', { class: 'card', testid: 'conditions' });
  const opState = h('div', { class: 'card', testid: 'operation-state' });
  const history = h('div', { class: 'card history' });
  const resBox = h('div', { class: 'res-box' });
  const panelBox = h('div', { class: 'panel-box' });
  const filter = h('input', { type: 'search', testid: 'resource-filter', placeholder: 'Filter resources  ( / )', 'aria-label': 'Filter resources', class: 'search' });

  const treeView = new TreeView(openNode);
  const list = listView(openNode);
  const btnTree = h('button', { class: 'btn', testid: 'view-tree', onclick: () => setView('tree') }, 'Tree');
  const btnList = h('button', { class: 'btn', testid: 'view-list', onclick: () => setView('list') }, 'List');

  function say(msg: string, error = false): void {
    notice.hidden = false;
    notice.className = `notice${error ? ' error' : ''}`;
    notice.textContent = msg;
  }

  async function act(label: string, fn: () => Promise<unknown>): Promise<void> {
    say(`${label}…`);
    try {
      await fn();
      say(`${label}: done.`);
    } catch (e) {
      say(`${label} failed: ${(e as Error).message}`, true);
    }
  }

  function openNode(p: Placed): void {
    panel?.destroy();
    const close = () => {
      panel?.destroy();
      panel = undefined;
      replace(panelBox);
      treeView.select('');
    };
    const rp = resourcePanel(name, namespace, p.node, close);
    panel = { ...rp, key: p.key };
    treeView.select(p.key);
    replace(panelBox, rp.el);
  }

  function setView(v: 'tree' | 'list'): void {
    view = v;
    localStorage.setItem('fjord.resView', v);
    btnTree.setAttribute('aria-pressed', String(v === 'tree'));
    btnList.setAttribute('aria-pressed', String(v === 'list'));
    replace(resBox, v === 'tree' ? treeView.el : list.el);
    drawResources();
  }

  function drawResources(): void {
    const { placed, rows, depth } = layout(tree.nodes ?? [], app?.status?.resources ?? [], filter.value);
    if (view === 'tree') treeView.set(placed, rows, depth);
    else list.set(placed);
  }

  // Each section redraws only when what it shows changed (keeps focus and clicks stable).
  const sigs: Record<string, string> = {};
  function changed(section: string, value: unknown): boolean {
    const sig = JSON.stringify(value) ?? '';
    if (sigs[section] === sig) return false;
    sigs[section] = sig;
    return true;
  }

  function drawHeader(): void {
    if (!app) return;
    const st = app.status ?? {};
    if (changed('header', [app.spec, st.sync, st.health, st.reconciledAt, canSync])) drawTitle();
    if (changed('conditions', st.conditions ?? [])) drawConditions();
    if (changed('operation', st.operationState ?? null)) drawOperation();
    if (changed('history', [st.history ?? [], canSync])) drawHistory();
  }

  function drawTitle(): void {
    if (!app) return;
    const st = app.status ?? {};
    const src = app.spec.source ?? app.spec.sources?.[0] ?? {};
    const dest = app.spec.destination ?? {};
    const project = app.spec.project || 'default';
    replace(
      header,
      h('div', { class: 'crumbs' }, h('a', { href: '/applications' }, 'Applications'), ' / ', namespace),
      h('div', { class: 'title-row' },
        h('h1', null, name),
        badge('sync', st.sync?.status, 'app-sync-status'),
        badge('health', st.health?.status, 'app-health-status', st.health?.message),
        h('span', { class: 'spacer' }),
        h('button', { class: 'btn primary', testid: 'btn-sync', hidden: canSync === false, onclick: () => syncDialog(app as Application, base, ns, (m, e) => say(m, e)) }, '⟳ Sync'),
        h('button', { class: 'btn', testid: 'btn-refresh', onclick: () => act('Refresh', () => refresh('normal')) }, 'Refresh'),
        h('button', { class: 'btn', testid: 'btn-hard-refresh', onclick: () => act('Hard refresh', () => refresh('hard')) }, 'Hard refresh'),
        h('button', { class: 'btn danger', testid: 'btn-delete', onclick: () => deleteDialog(name, base, ns, () => navigate('/applications'), (m, e) => say(m, e)) }, 'Delete'),
      ),
      h('div', { class: 'facts' },
        fact('Project', project),
        fact('Source', `${src.repoURL ?? ''}${src.path ? ` ${src.path}` : ''}${src.targetRevision ? ` @ ${src.targetRevision}` : ''}`),
        fact('Revision', (st.sync?.revision ?? '').slice(0, 12)),
        fact('Destination', `${dest.name || dest.server || ''}${dest.namespace ? ` / ${dest.namespace}` : ''}`),
        fact('Auto-sync', app.spec.syncPolicy?.automated ? 'on' : 'off'),
        fact('Reconciled', shortTime(st.reconciledAt)),
      ),
      st.health?.message ? h('p', { class: 'muted' }, st.health.message) : null,
    );
  }

  function drawConditions(): void {
    const conds = app?.status?.conditions ?? [];
    replace(conditions, h('h2', null, 'Conditions'), conds.length ? h('ul', { class: 'conds' }, conds.map((c) => h('li', { class: /Error|Warning/.test(c.type) ? 'warn' : '' }, h('strong', null, c.type), ': ', c.message ?? '', c.lastTransitionTime ? h('span', { class: 'muted' }, ` (${shortTime(c.lastTransitionTime)})`) : null))) : h('p', { class: 'muted' }, 'No conditions.'));
  }

  function drawOperation(): void {
    const op = app?.status?.operationState;
    replace(
      opState,
      h('h2', null, 'Last operation'),
      op
        ? h('div', null,
            h('p', null, h('strong', { class: `phase ph-${op.phase}`, testid: 'operation-phase' }, op.phase ?? ''), op.message ? ` — ${op.message}` : ''),
            h('p', { class: 'muted' }, `Started ${shortTime(op.startedAt)}${op.finishedAt ? `, finished ${shortTime(op.finishedAt)}` : ''}${op.syncResult?.revision ? `, revision ${op.syncResult.revision.slice(0, 12)}` : ''}`),
            (op.syncResult?.resources ?? []).length
              ? h('details', null, h('summary', null, `${op.syncResult?.resources?.length} resources`), h('ul', { class: 'oplist' }, (op.syncResult?.resources ?? []).map((r) => h('li', null, `${r.kind}/${r.name}: ${r.status ?? ''}${r.message ? ` — ${r.message}` : ''}`))))
              : null)
        : h('p', { class: 'muted' }, 'No operation yet.'),
    );
  }

  function drawHistory(): void {
    const hist = [...(app?.status?.history ?? [])].sort((a, b) => b.id - a.id);
    replace(
      history,
      h('h2', null, 'History'),
      hist.length
        ? h('table', { class: 'hist' },
            h('thead', null, h('tr', null, ['#', 'Revision', 'Deployed', 'By', ''].map((c) => h('th', null, c)))),
            h('tbody', null, hist.map((e, i) => h('tr', { testid: 'history-row', 'data-id': e.id },
              h('td', null, e.id),
              h('td', null, h('code', null, (e.revision ?? '').slice(0, 12))),
              h('td', { title: e.deployedAt ?? '' }, shortTime(e.deployedAt)),
              h('td', null, e.initiatedBy?.automated ? 'auto-sync' : e.initiatedBy?.username ?? ''),
              h('td', null, i === 0 ? h('span', { class: 'muted' }, 'current') : null,
                h('button', { class: 'btn small', testid: 'btn-rollback', 'data-id': e.id, hidden: canSync === false || i === 0, title: `Roll back to deployment ${e.id}`, onclick: () => act(`Rollback to #${e.id}`, () => api(`${base}/rollback`, { method: 'POST', body: { id: e.id, appNamespace: namespace } })) }, 'Rollback'))))))
        : h('p', { class: 'muted' }, 'No deployments yet.'),
    );
  }

  async function refresh(kind: 'normal' | 'hard'): Promise<void> {
    app = await api<Application>(`${base}${qs({ ...ns, refresh: kind })}`);
    drawHeader();
  }

  const appStream = new Stream({
    prepare: async () => {
      app = await api<Application>(`${base}${qs(ns)}`);
      if (canSync === undefined) {
        try {
          const r = await api<{ value?: string }>(`/api/v1/account/can-i/applications/sync/${encodeURIComponent(app.spec.project || 'default')}/${encodeURIComponent(name)}`);
          canSync = r.value === 'yes';
        } catch (e) {
          if (e instanceof ApiError && e.status === 403) canSync = false;
        }
      }
      drawHeader();
      drawResources();
      return `/api/v1/stream/applications${qs({ name, ...ns })}`;
    },
    onData: (d) => {
      const ev = (d as { result?: { type?: string; application?: Application } }).result;
      if (!ev?.application) return;
      if (ev.type === 'DELETED') {
        say('This app was deleted.');
        return;
      }
      const m = ev.application.metadata;
      if (m?.name !== name || (m.namespace && m.namespace !== namespace)) return;
      app = ev.application;
      scheduleDraw();
    },
    onState: (ok, err) => {
      if (!ok && err && err.status !== 0) say(`Cannot load ${name}: ${err.message}`, true);
      else if (ok && notice.classList.contains('error') && notice.textContent?.startsWith('Cannot load')) notice.hidden = true;
    },
  });

  const treeStream = new Stream({
    prepare: async () => {
      tree = await api<Tree>(`${base}/resource-tree${qs(ns)}`);
      drawResources();
      return `/api/v1/stream/applications/${encodeURIComponent(name)}/resource-tree${qs(ns)}`;
    },
    onData: (d) => {
      const t = (d as { result?: Tree }).result;
      if (!t) return;
      tree = t;
      scheduleDraw();
    },
  });

  // Live updates are coalesced: at most one redraw each 500 ms.
  let drawTimer: number | undefined;
  function scheduleDraw(): void {
    if (drawTimer !== undefined) return;
    drawTimer = window.setTimeout(() => {
      drawTimer = undefined;
      drawHeader();
      if (changed('resources', [tree, app?.status?.resources ?? []])) drawResources();
    }, 500);
  }

  filter.addEventListener('input', debounce(drawResources, 80));
  const onSlash = (e: KeyboardEvent) => {
    if (e.key === '/' && !/^(INPUT|TEXTAREA|SELECT)$/.test((e.target as HTMLElement).tagName)) {
      e.preventDefault();
      filter.focus();
    }
  };
  document.addEventListener('keydown', onSlash);

  const el = h(
    'section',
    { class: 'app-page' },
    header,
    notice,
    h('div', { class: 'status-grid' }, conditions, opState, history),
    h('div', { class: 'toolbar' }, h('h2', null, 'Resources'), filter, h('span', { class: 'spacer' }), btnTree, btnList),
    h('div', { class: 'res-area' }, resBox, panelBox),
  );
  replace(header, h('p', { class: 'muted pad' }, 'Loading…'));
  setView(view);
  return {
    el,
    destroy() {
      appStream.close();
      treeStream.close();
      panel?.destroy();
      list.destroy();
      if (drawTimer !== undefined) clearTimeout(drawTimer);
      document.removeEventListener('keydown', onSlash);
    },
  };
}

function fact(label: string, value: string): HTMLElement {
  return h('div', { class: 'fact' }, h('span', { class: 'muted' }, label), h('span', { class: 'ellipsis', title: value }, value || '—'));
}
