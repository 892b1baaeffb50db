// A line diff (Myers' O(ND) algorithm, written for fjord) and its rendering.

import { h } from './dom';

/** One line of a diff: same on both sides, only on the left (-), or only on the right (+). */
export interface DiffLine {
  op: ' ' | '-' | '+';
  text: string;
  a?: number;
  b?: number;
}

/** Diffs two line arrays. Common prefix and suffix are trimmed first; past `maxD` edits the
 * middle is reported as a plain replacement (still correct, less minimal). */
export function diffLines(a: string[], b: string[], maxD = 1000): DiffLine[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const out: DiffLine[] = [];
  for (let i = 0; i < pre; i++) out.push({ op: ' ', text: a[i], a: i + 1, b: i + 1 });
  const A = a.slice(pre, a.length - suf);
  const B = b.slice(pre, b.length - suf);
  for (const l of middle(A, B, maxD)) {
    out.push({ op: l.op, text: l.text, a: l.a === undefined ? undefined : l.a + pre, b: l.b === undefined ? undefined : l.b + pre });
  }
  for (let i = 0; i < suf; i++) {
    const ai = a.length - suf + i;
    const bi = b.length - suf + i;
    out.push({ op: ' ', text: a[ai], a: ai + 1, b: bi + 1 });
  }
  return out;
}

function middle(a: string[], b: string[], maxD: number): DiffLine[] {
  const n = a.length;
  const m = b.length;
  if (!n || !m) {
    return [...a.map((t, i): DiffLine => ({ op: '-', text: t, a: i + 1 })), ...b.map((t, i): DiffLine => ({ op: '+', text: t, b: i + 1 }))];
  }
  const max = Math.min(n + m, maxD);
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= max && found < 0; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1] < v[off + k + 1]) ? v[off + k + 1] : v[off + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
  }
  if (found < 0) {
    return [...a.map((t, i): DiffLine => ({ op: '-', text: t, a: i + 1 })), ...b.map((t, i): DiffLine => ({ op: '+', text: t, b: i + 1 }))];
  }
  // Walk back through the saved V arrays.
  const rev: DiffLine[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const vd = trace[d];
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[off + k - 1] < vd[off + k + 1]) ? k + 1 : k - 1;
    const px = vd[off + prevK];
    const py = px - prevK;
    while (x > px && y > py) {
      x--;
      y--;
      rev.push({ op: ' ', text: a[x], a: x + 1, b: y + 1 });
    }
    if (x === px) {
      y--;
      rev.push({ op: '+', text: b[y], b: y + 1 });
    } else {
      x--;
      rev.push({ op: '-', text: a[x], a: x + 1 });
    }
  }
  while (x > 0 && y > 0) {
    x--;
    y--;
    rev.push({ op: ' ', text: a[x], a: x + 1, b: y + 1 });
  }
  return rev.reverse();
}

/** Renders a diff: unified (with 3 lines of context; long equal runs folded) or side by side. */
export function renderDiff(lines: DiffLine[], mode: 'unified' | 'split'): HTMLElement {
  const changed = lines.some((l) => l.op !== ' ');
  const el = h('div', { class: `diff ${mode}`, testid: 'diff-view', 'data-changed': String(changed) });
  if (!changed) {
    el.append(h('p', { class: 'muted pad' }, 'No differences: live matches desired.'));
  }
  const keep = new Uint8Array(lines.length);
  lines.forEach((l, i) => {
    if (l.op !== ' ') for (let j = Math.max(0, i - 3); j <= Math.min(lines.length - 1, i + 3); j++) keep[j] = 1;
  });
  const frag = document.createDocumentFragment();
  let i = 0;
  while (i < lines.length) {
    if (!keep[i] && changed) {
      let j = i;
      while (j < lines.length && !keep[j]) j++;
      frag.append(h('div', { class: 'fold' }, `⋯ ${j - i} unchanged lines`));
      i = j;
      continue;
    }
    if (!changed && i > 400) {
      frag.append(h('div', { class: 'fold' }, `⋯ ${lines.length - i} more lines`));
      break;
    }
    if (mode === 'unified') {
      const l = lines[i];
      frag.append(h('div', { class: `dl op${l.op === ' ' ? 'eq' : l.op === '+' ? 'add' : 'del'}` }, h('span', { class: 'ln' }, l.a ?? ''), h('span', { class: 'ln' }, l.b ?? ''), h('span', { class: 'sign' }, l.op), h('span', { class: 'tx' }, l.text)));
      i++;
    } else {
      // Pair a run of deletions with the following run of additions.
      if (lines[i].op === ' ') {
        const l = lines[i];
        frag.append(splitRow(l, l));
        i++;
        continue;
      }
      const dels: DiffLine[] = [];
      const adds: DiffLine[] = [];
      while (i < lines.length && lines[i].op === '-') dels.push(lines[i++]);
      while (i < lines.length && lines[i].op === '+') adds.push(lines[i++]);
      for (let k = 0; k < Math.max(dels.length, adds.length); k++) frag.append(splitRow(dels[k], adds[k]));
    }
  }
  el.append(frag);
  return el;
}

function splitRow(l?: DiffLine, r?: DiffLine): HTMLElement {
  const cell = (d: DiffLine | undefined, side: 'a' | 'b') =>
    d ? [h('span', { class: 'ln' }, d[side] ?? ''), h('span', { class: `tx op${d.op === ' ' ? 'eq' : d.op === '+' ? 'add' : 'del'}` }, d.text)] : [h('span', { class: 'ln' }), h('span', { class: 'tx empty' })];
  return h('div', { class: 'dl' }, cell(l, 'a'), cell(r, 'b'));
}
