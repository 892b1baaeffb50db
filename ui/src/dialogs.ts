// The sync and delete dialogs (native <dialog>: modal, Escape closes).

import { api, qs, type Application } from './api';
import { h } from './dom';

type Say = (message: string, error?: boolean) => void;

function modal(title: string, body: HTMLElement[], confirm: HTMLButtonElement): HTMLDialogElement {
  const d = h(
    'dialog',
    { class: 'dialog', 'aria-label': title },
    h('form', { method: 'dialog' }, h('h2', null, title), body, h('div', { class: 'dialog-actions' }, h('button', { class: 'btn', value: 'cancel', testid: 'dialog-cancel' }, 'Cancel'), confirm)),
  );
  d.addEventListener('close', () => d.remove());
  document.body.append(d);
  d.showModal();
  return d;
}

function check(label: string, testid: string, checked = false): [HTMLLabelElement, HTMLInputElement] {
  const input = h('input', { type: 'checkbox', testid, checked });
  return [h('label', { class: 'check' }, input, ' ', label), input];
}

/** Opens the sync panel for `app`. */
export function syncDialog(app: Application, base: string, ns: { appNamespace: string }, say: Say): void {
  const [pruneL, prune] = check('Prune (delete resources no longer in Git)', 'sync-prune');
  const [dryL, dry] = check('Dry run', 'sync-dry-run');
  const [oosL, oos] = check('Apply out-of-sync only', 'sync-apply-out-of-sync-only');
  const resources = app.status?.resources ?? [];
  const boxes = resources.map((r) => {
    const [l, i] = check(`${r.kind}/${r.namespace ? `${r.namespace}/` : ''}${r.name}${r.status === 'OutOfSync' ? ' (OutOfSync)' : ''}`, 'sync-resource', true);
    i.dataset.kind = r.kind;
    i.dataset.name = r.name;
    return { r, l, i };
  });
  const [allL, all] = check('All resources', 'sync-all', true);
  all.addEventListener('change', () => boxes.forEach((b) => (b.i.checked = all.checked)));
  const confirm = h('button', { class: 'btn primary', testid: 'sync-confirm', value: 'ok' }, 'Synchronize');
  const d = modal(`Sync ${app.metadata.name}`, [
    h('div', { class: 'checks' }, pruneL, dryL, oosL),
    resources.length ? h('fieldset', { class: 'res-checks' }, h('legend', null, 'Resources'), allL, h('div', { class: 'res-scroll' }, boxes.map((b) => b.l))) : h('span'),
  ], confirm);
  confirm.addEventListener('click', async (e) => {
    e.preventDefault();
    const chosen = boxes.filter((b) => b.i.checked);
    if (resources.length && !chosen.length) {
      say('Select at least one resource to sync.', true);
      return;
    }
    const items: string[] = [];
    if (oos.checked) items.push('ApplyOutOfSyncOnly=true');
    const body: Record<string, unknown> = {
      prune: prune.checked,
      dryRun: dry.checked,
      resources: chosen.length === boxes.length ? null : chosen.map(({ r }) => ({ group: r.group ?? '', kind: r.kind, name: r.name, namespace: r.namespace ?? '' })),
      appNamespace: ns.appNamespace,
    };
    if (items.length) body.syncOptions = { items };
    d.close();
    say(dry.checked ? 'Dry-run sync started…' : 'Sync started…');
    try {
      await api(`${base}/sync`, { method: 'POST', body });
      say(dry.checked ? 'Dry-run sync requested.' : 'Sync requested: watch the operation state.');
    } catch (err) {
      say(`Sync failed: ${(err as Error).message}`, true);
    }
  });
}

/** Opens the delete confirmation (with the cascade choice). */
export function deleteDialog(name: string, base: string, ns: { appNamespace: string }, done: () => void, say: Say): void {
  const choice = (value: string, label: string, checked = false) => h('label', { class: 'check' }, h('input', { type: 'radio', name: 'cascade', value, checked }), ' ', label);
  const confirm = h('button', { class: 'btn danger', testid: 'delete-confirm', value: 'ok' }, 'Delete');
  const d = modal(`Delete ${name}?`, [
    h('p', null, 'Deleting the app can also delete the resources it manages.'),
    h('div', { class: 'checks' },
      choice('foreground', 'Foreground cascade: delete resources, then the app', true),
      choice('background', 'Background cascade'),
      choice('none', 'Non-cascading: keep the resources')),
  ], confirm);
  confirm.addEventListener('click', async (e) => {
    e.preventDefault();
    const v = (d.querySelector('input[name=cascade]:checked') as HTMLInputElement | null)?.value ?? 'foreground';
    d.close();
    try {
      await api(`${base}${qs({ ...ns, cascade: v !== 'none', propagationPolicy: v === 'none' ? undefined : v })}`, { method: 'DELETE' });
      done();
    } catch (err) {
      say(`Delete failed: ${(err as Error).message}`, true);
    }
  });
}
