// The resource tree: nodes from resource-tree joined by parentRefs, laid out in columns by depth
// (a node's row is its first child's, leaves take the next free row). Only the nodes in view are
// drawn, so 2,000 nodes cost the same as 50. Also a list view of the same nodes with a filter.

import type { ResourceStatus, TreeNode } from './api';
import { h, icon } from './dom';
import { VirtualList } from './virtual';

/** A node with its layout and its sync status (from the app's status.resources). */
export interface Placed {
  node: TreeNode;
  key: string;
  depth: number;
  row: number;
  parent?: Placed;
  sync?: string;
  managed: boolean;
}

/** Natural order: pod-2 before pod-10. */
const collator = new Intl.Collator(undefined, { numeric: true });
const COL_W = 290;
const NODE_W = 250;
const ROW_H = 58;

/** `group/kind/namespace/name`. */
export function refKey(r: { group?: string; kind: string; namespace?: string; name: string }): string {
  return `${r.group ?? ''}/${r.kind}/${r.namespace ?? ''}/${r.name}`;
}

/** Lays out the tree. `filter` keeps matching nodes and their ancestors (all when empty). */
export function layout(nodes: TreeNode[], resources: ResourceStatus[], filter: string): { placed: Placed[]; rows: number; depth: number } {
  const byKey = new Map<string, Placed>();
  const byUid = new Map<string, Placed>();
  const status = new Map<string, ResourceStatus>();
  for (const r of resources) status.set(refKey(r), r);
  const all: Placed[] = [];
  for (const n of nodes) {
    const key = refKey(n);
    if (byKey.has(key)) continue;
    const st = status.get(key);
    const p: Placed = { node: n, key, depth: 0, row: 0, sync: st?.status, managed: !!st };
    byKey.set(key, p);
    if (n.uid) byUid.set(n.uid, p);
    all.push(p);
  }
  // Managed resources missing from the tree (not yet created) still show, as Missing.
  for (const r of resources) {
    const key = refKey(r);
    if (byKey.has(key)) continue;
    const p: Placed = { node: { group: r.group, version: r.version, kind: r.kind, namespace: r.namespace, name: r.name, health: r.health }, key, depth: 0, row: 0, sync: r.status, managed: true };
    byKey.set(key, p);
    all.push(p);
  }
  const children = new Map<Placed, Placed[]>();
  const roots: Placed[] = [];
  for (const p of all) {
    let parent: Placed | undefined;
    for (const ref of p.node.parentRefs ?? []) {
      parent = (ref.uid && byUid.get(ref.uid)) || byKey.get(refKey({ ...ref, namespace: ref.namespace ?? p.node.namespace }));
      if (parent && parent !== p) break;
      parent = undefined;
    }
    if (parent) {
      p.parent = parent;
      const list = children.get(parent) ?? [];
      list.push(p);
      children.set(parent, list);
    } else roots.push(p);
  }
  const q = filter.trim().toLowerCase();
  const visible = new Set<Placed>();
  if (q) {
    for (const p of all) {
      const n = p.node;
      const hay = `${n.kind} ${n.name} ${n.namespace ?? ''} ${p.sync ?? ''} ${n.health?.status ?? ''}`.toLowerCase();
      if (hay.includes(q)) for (let a: Placed | undefined = p; a && !visible.has(a); a = a.parent) visible.add(a);
    }
  }
  const order = (a: Placed, b: Placed) => collator.compare(`${a.node.kind}/${a.node.name}`, `${b.node.kind}/${b.node.name}`);
  const placed: Placed[] = [];
  let nextRow = 0;
  let maxDepth = 0;
  const seen = new Set<Placed>();
  // Iterative depth-first walk (no recursion limit at 2,000 nodes deep chains).
  const place = (root: Placed) => {
    const stack: { p: Placed; depth: number; kids?: Placed[]; i: number }[] = [{ p: root, depth: 0, i: 0 }];
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (!top.kids) {
        seen.add(top.p);
        top.p.depth = top.depth;
        maxDepth = Math.max(maxDepth, top.depth);
        top.p.row = -1;
        placed.push(top.p);
        top.kids = (children.get(top.p) ?? []).filter((c) => !seen.has(c) && (!q || visible.has(c))).sort(order);
      }
      if (top.i < top.kids.length) {
        const c = top.kids[top.i++];
        if (top.p.row < 0) top.p.row = nextRow;
        stack.push({ p: c, depth: top.depth + 1, i: 0 });
      } else {
        if (top.p.row < 0) top.p.row = nextRow++;
        stack.pop();
      }
    }
  };
  for (const r of roots.sort(order)) if (!q || visible.has(r)) place(r);
  return { placed, rows: nextRow, depth: maxDepth };
}

/** The tree view: a scroll box drawing only the nodes (and edges) in view. */
export class TreeView {
  readonly el: HTMLElement;
  private readonly canvas: HTMLElement;
  private readonly svg: SVGSVGElement;
  private readonly layer: HTMLElement;
  private placed: Placed[] = [];
  private byRow: Placed[][] = [];
  private frame = 0;
  private selected = '';
  private focusKey = '';

  constructor(private onOpen: (p: Placed) => void) {
    this.el = h('div', { class: 'tree', role: 'tree', 'aria-label': 'Resource tree', tabindex: -1 });
    this.canvas = h('div', { class: 'tree-canvas' });
    this.svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    this.svg.setAttribute('class', 'edges');
    this.layer = h('div', { class: 'tree-layer' });
    this.canvas.append(this.svg, this.layer);
    this.el.append(this.canvas);
    this.el.addEventListener('scroll', () => {
      cancelAnimationFrame(this.frame);
      this.frame = requestAnimationFrame(() => this.draw());
    }, { passive: true });
    this.el.addEventListener('click', (e) => {
      const n = (e.target as Element).closest<HTMLElement>('[data-key]');
      const p = n && this.placed.find((x) => x.key === n.dataset.key);
      if (p) this.open(p);
    });
    this.el.addEventListener('keydown', (e) => this.onKey(e));
  }

  /** Sets the nodes and redraws now. */
  set(placed: Placed[], rows: number, depth: number): void {
    this.placed = placed;
    this.byRow = Array.from({ length: rows }, () => []);
    for (const p of placed) this.byRow[p.row]?.push(p);
    this.canvas.style.height = `${rows * ROW_H + 20}px`;
    this.canvas.style.width = `${(depth + 1) * COL_W + 20}px`;
    this.svg.setAttribute('width', String((depth + 1) * COL_W + 20));
    this.svg.setAttribute('height', String(rows * ROW_H + 20));
    this.draw();
  }

  /** Marks the node whose panel is open. */
  select(key: string): void {
    this.selected = key;
    this.draw();
  }

  private open(p: Placed): void {
    this.selected = p.key;
    this.focusKey = p.key;
    this.onOpen(p);
    this.draw();
  }

  private draw(): void {
    const top = this.el.scrollTop;
    const height = this.el.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_H) - 3);
    const last = Math.min(this.byRow.length - 1, Math.ceil((top + height) / ROW_H) + 3);
    const hadFocus = this.el.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.key : undefined;
    const frag = document.createDocumentFragment();
    let paths = '';
    // Roving tab stop: the focused (or selected) node, else the first one drawn.
    const inView = (k: string) => !!k && this.placed.some((p) => p.key === k && p.row >= first && p.row <= last);
    const stop = inView(this.focusKey) ? this.focusKey : inView(this.selected) ? this.selected : this.byRow[first]?.[0]?.key ?? '';
    for (let r = first; r <= last; r++) {
      for (const p of this.byRow[r]) {
        frag.append(this.nodeEl(p, p.key === stop));
        if (p.parent) {
          const x1 = p.parent.depth * COL_W + 10 + NODE_W;
          const y1 = p.parent.row * ROW_H + 10 + (ROW_H - 10) / 2;
          const x2 = p.depth * COL_W + 10;
          const y2 = p.row * ROW_H + 10 + (ROW_H - 10) / 2;
          const mx = (x1 + x2) / 2;
          paths += `M${x1} ${y1}C${mx} ${y1} ${mx} ${y2} ${x2} ${y2}`;
        }
      }
    }
    this.layer.replaceChildren(frag);
    this.svg.innerHTML = paths ? `<path d="${paths}"/>` : '';
    if (hadFocus) (this.layer.querySelector(`[data-key="${CSS.escape(hadFocus)}"]`) as HTMLElement | null)?.focus({ preventScroll: true });
  }

  private nodeEl(p: Placed, tabStop: boolean): HTMLElement {
    const n = p.node;
    const health = n.health?.status;
    const info = (n.info ?? []).map((i) => `${i.name}: ${i.value}`).join(' · ');
    return h(
      'div',
      {
        class: `tnode${p.key === this.selected ? ' selected' : ''}${p.sync === 'OutOfSync' ? ' out' : ''}`,
        testid: 'tree-node',
        'data-kind': n.kind,
        'data-name': n.name,
        'data-key': p.key,
        role: 'treeitem',
        'aria-level': p.depth + 1,
        tabindex: tabStop ? 0 : -1,
        style: `top:${p.row * ROW_H + 10}px;left:${p.depth * COL_W + 10}px;width:${NODE_W}px;height:${ROW_H - 10}px`,
        title: [n.health?.message, info].filter(Boolean).join('\n') || undefined,
      },
      h('span', { class: 'kind' }, kindAbbrev(n.kind)),
      h('span', { class: 'tbody' }, h('span', { class: 'tname ellipsis' }, n.name), h('span', { class: 'tmeta ellipsis' }, n.kind, n.health?.message ? ` · ${n.health.message}` : info ? ` · ${info}` : '')),
      h('span', { class: 'ticons' }, health ? icon('health', health, n.health?.message) : null, p.managed ? icon('sync', p.sync) : null),
    );
  }

  private onKey(e: KeyboardEvent): void {
    const t = (e.target as HTMLElement).dataset?.key;
    const cur = t ? this.placed.find((p) => p.key === t) : undefined;
    if (!cur) return;
    let next: Placed | undefined;
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      this.open(cur);
      return;
    }
    if (e.key === 'ArrowLeft') next = cur.parent;
    else if (e.key === 'ArrowRight') next = this.placed.find((p) => p.parent === cur);
    else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const i = this.placed.indexOf(cur) + (e.key === 'ArrowDown' ? 1 : -1);
      next = this.placed[i];
    }
    if (!next) return;
    e.preventDefault();
    this.focusKey = next.key;
    const y = next.row * ROW_H;
    if (y < this.el.scrollTop || y + ROW_H > this.el.scrollTop + this.el.clientHeight) this.el.scrollTop = Math.max(0, y - this.el.clientHeight / 2);
    this.el.scrollLeft = Math.max(0, next.depth * COL_W - 40);
    this.draw();
    (this.layer.querySelector(`[data-key="${CSS.escape(next.key)}"]`) as HTMLElement | null)?.focus({ preventScroll: true });
  }
}

/** A short label for a kind (`Deployment` → `deploy`). */
function kindAbbrev(kind: string): string {
  const m: Record<string, string> = { Deployment: 'deploy', ReplicaSet: 'rs', Pod: 'pod', Service: 'svc', ConfigMap: 'cm', Secret: 'secret', StatefulSet: 'sts', DaemonSet: 'ds', Ingress: 'ing', Job: 'job', CronJob: 'cj', ServiceAccount: 'sa', Namespace: 'ns', Endpoints: 'ep', EndpointSlice: 'eps', PersistentVolumeClaim: 'pvc' };
  return m[kind] ?? kind.replace(/[a-z]/g, '').toLowerCase().slice(0, 4) ?? kind.slice(0, 4);
}

/** The list view of the nodes (virtualized). */
export function listView(onOpen: (p: Placed) => void): { el: HTMLElement; set(p: Placed[]): void; destroy(): void } {
  const vl = new VirtualList<Placed>({
    rowHeight: 36,
    className: 'table',
    label: 'Resources',
    activate: (p) => onOpen(p),
    render: (p) =>
      h(
        'div',
        { class: 'trow rrow', testid: 'tree-node', 'data-kind': p.node.kind, 'data-name': p.node.name, role: 'row', title: p.node.health?.message },
        h('span', { class: 'ellipsis' }, p.node.kind),
        h('span', { class: 'ellipsis' }, p.node.name),
        h('span', { class: 'ellipsis' }, p.node.namespace ?? ''),
        h('span', null, p.managed ? icon('sync', p.sync) : '', ' ', p.sync ?? ''),
        h('span', { class: 'ellipsis' }, p.node.health?.status ? icon('health', p.node.health.status, p.node.health.message) : '', ' ', p.node.health?.status ?? '', p.node.health?.message ? ` — ${p.node.health.message}` : ''),
      ),
  });
  const head = h('div', { class: 'trow rrow thead', role: 'row' }, ['Kind', 'Name', 'Namespace', 'Sync', 'Health'].map((c) => h('span', { role: 'columnheader' }, c)));
  return {
    el: h('div', { class: 'table-wrap' }, head, vl.el),
    set: (p) => vl.setItems([...p].sort((a, b) => collator.compare(`${a.node.kind}/${a.node.name}`, `${b.node.kind}/${b.node.name}`))),
    destroy: () => vl.destroy(),
  };
}
