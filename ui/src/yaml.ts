// Renders JSON values as YAML-like text (keys sorted, so two objects diff line by line).

const PLAIN = /^[A-Za-z0-9_./-][A-Za-z0-9_ ./:@-]*$/;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') {
    if (v === '' || !PLAIN.test(v) || /^(true|false|null|yes|no|~|[-+]?[0-9.]+)$/i.test(v) || v.endsWith(' ') || v.includes(': ')) return JSON.stringify(v);
    return v;
  }
  return String(v);
}

/** YAML-ish lines for `value`. */
export function toYaml(value: unknown, indent = ''): string[] {
  const out: string[] = [];
  if (Array.isArray(value)) {
    if (!value.length) return [`${indent}[]`];
    for (const item of value) {
      if (item !== null && typeof item === 'object' && Object.keys(item).length) {
        const inner = toYaml(item, `${indent}  `);
        out.push(`${indent}- ${inner[0].trimStart()}`, ...inner.slice(1));
      } else out.push(`${indent}- ${item !== null && typeof item === 'object' ? (Array.isArray(item) ? '[]' : '{}') : scalar(item)}`);
    }
    return out;
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value as object).sort();
    if (!keys.length) return [`${indent}{}`];
    for (const k of keys) {
      const v = (value as Record<string, unknown>)[k];
      const key = PLAIN.test(k) && !k.includes(':') ? k : JSON.stringify(k);
      if (v !== null && typeof v === 'object' && (Array.isArray(v) ? v.length : Object.keys(v).length)) {
        out.push(`${indent}${key}:`, ...toYaml(v, Array.isArray(v) ? indent : `${indent}  `));
      } else if (typeof v === 'string' && v.includes('\n')) {
        out.push(`${indent}${key}: |`, ...v.replace(/\n$/, '').split('\n').map((l) => `${indent}  ${l}`));
      } else {
        out.push(`${indent}${key}: ${v !== null && typeof v === 'object' ? (Array.isArray(v) ? '[]' : '{}') : scalar(v)}`);
      }
    }
    return out;
  }
  return [`${indent}${scalar(value)}`];
}

/** Parses a JSON string state (as managed-resources returns), dropping noise; null when empty. */
export function parseState(s: string | undefined | null): Record<string, unknown> | null {
  if (!s || s === 'null') return null;
  try {
    const o = JSON.parse(s) as Record<string, unknown> | null;
    if (!o || typeof o !== 'object') return null;
    const md = o.metadata as Record<string, unknown> | undefined;
    if (md) {
      delete md.managedFields;
    }
    return o;
  } catch {
    return null;
  }
}
