// History-API routing: /login, /applications, /applications/{namespace}/{name}.

type Listener = () => void;
let listener: Listener = () => {};

/** Registers the function that renders the current route. */
export function onRoute(fn: Listener): void {
  listener = fn;
  window.addEventListener('popstate', () => listener());
}

/** Navigates to `path` (pushing history unless `replace`). */
export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  listener();
}

/** Intercepts plain left clicks on same-origin links so they route without reloading. */
export function installLinkHandler(): void {
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element).closest?.('a');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
    e.preventDefault();
    navigate(url.pathname + url.search);
  });
}

/** The app page's path. */
export function appPath(namespace: string, name: string): string {
  return `/applications/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
}
