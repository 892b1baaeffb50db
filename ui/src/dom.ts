// A tiny DOM builder: h('div', {class: 'x', testid: 'y', onclick: fn}, children...).

export type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, unknown> | null | undefined;

/** Creates an element with attributes, event listeners (`on*`) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2), value as EventListener);
      } else if (key === 'testid') {
        el.setAttribute('data-testid', String(value));
      } else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'hidden') {
        (el as unknown as Record<string, unknown>)[key] = value;
      } else {
        el.setAttribute(key, value === true ? '' : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

/** Appends children (flattening arrays, skipping empty values). */
export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

/** Replaces every child of `parent`. */
export function replace(parent: Node, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, children);
}

/** Calls `fn` at most once per `ms` after the last call. */
export function debounce<A extends unknown[]>(fn: (...a: A) => void, ms: number): (...a: A) => void {
  let t: number | undefined;
  return (...a: A) => {
    if (t !== undefined) clearTimeout(t);
    t = window.setTimeout(() => fn(...a), ms);
  };
}

/** `14:02` for today, else `2026-12-07 14:02` (local time). */
export function shortTime(iso?: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const today = new Date();
  if (d.toDateString() === today.toDateString()) return hm;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}

const HEALTH_ICON: Record<string, string> = {
  Healthy: '♥',
  Progressing: '◔',
  Degraded: '✖',
  Suspended: '⏸',
  Missing: '?',
  Unknown: '?',
};
const SYNC_ICON: Record<string, string> = { Synced: '✔', OutOfSync: '⟳', Unknown: '?' };

/** A status badge: icon + text, coloured by status. */
export function badge(kind: 'health' | 'sync', status: string | undefined, testid?: string, title?: string): HTMLElement {
  const s = status || 'Unknown';
  const icon = (kind === 'health' ? HEALTH_ICON[s] : SYNC_ICON[s]) ?? '•';
  return h(
    'span',
    { class: `badge st-${s}`, testid, title: title || undefined, 'data-status': s },
    h('span', { class: 'icon', 'aria-hidden': 'true' }, icon),
    ' ',
    s,
  );
}

/** A small icon only (with an accessible label). */
export function icon(kind: 'health' | 'sync', status: string | undefined, title?: string): HTMLElement {
  const s = status || 'Unknown';
  const ic = (kind === 'health' ? HEALTH_ICON[s] : SYNC_ICON[s]) ?? '•';
  return h('span', { class: `icon st-${s}`, title: title ? `${s}: ${title}` : s, 'aria-label': `${kind} ${s}`, role: 'img' }, ic);
}
