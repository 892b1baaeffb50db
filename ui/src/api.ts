// The API client: JSON requests (401 sends the browser to /login) and resilient SSE streams.

import { navigate } from './router';

/** A failed API call: HTTP status (0 when the server could not be reached) and message. */
export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Sends the browser to the login page, remembering where it was. */
export function goLogin(): void {
  if (location.pathname === '/login') return;
  const back = location.pathname + location.search;
  navigate(`/login?return_url=${encodeURIComponent(back)}`, true);
}

/** Builds a query string from defined values. */
export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Calls the API; JSON in and out. Writes always send `Content-Type: application/json`. */
export async function api<T>(path: string, init: { method?: string; body?: unknown; noLoginRedirect?: boolean } = {}): Promise<T> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET') headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: init.body === undefined ? (method === 'GET' ? undefined : '{}') : JSON.stringify(init.body),
    });
  } catch (e) {
    throw new ApiError(0, `the server could not be reached (${(e as Error).message})`);
  }
  const text = await res.text();
  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const msg = (data as { message?: string; error?: string } | undefined)?.message || (data as { error?: string })?.error || text || res.statusText;
    if (res.status === 401 && !init.noLoginRedirect) goLogin();
    throw new ApiError(res.status, msg);
  }
  return data as T;
}

/** Options of a resilient stream. */
export interface StreamOptions {
  /** Runs before each (re)connect: loads the current state and returns the stream URL. */
  prepare: () => Promise<string>;
  /** One parsed `data:` message. */
  onData: (data: unknown) => void;
  /** Connection state changes: true when connected, false while retrying. */
  onState?: (connected: boolean, error?: ApiError) => void;
}

/** An SSE stream that reconnects with exponential backoff (0.5 s doubling to 30 s), reconnects at
 * once when the tab becomes visible again, and stops (going to /login) on 401. */
export class Stream {
  private es?: EventSource;
  private timer?: number;
  private attempt = 0;
  private closed = false;
  private connecting = false;
  private readonly onVisible = () => {
    if (document.visibilityState === 'visible' && !this.es && !this.connecting && !this.closed) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      void this.connect();
    }
  };

  constructor(private opts: StreamOptions) {
    document.addEventListener('visibilitychange', this.onVisible);
    void this.connect();
  }

  /** Stops the stream for good. */
  close(): void {
    this.closed = true;
    document.removeEventListener('visibilitychange', this.onVisible);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.es?.close();
    this.es = undefined;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    this.connecting = true;
    let url: string;
    try {
      url = await this.opts.prepare();
    } catch (e) {
      this.connecting = false;
      const err = e instanceof ApiError ? e : new ApiError(0, String(e));
      if (err.status === 401) return this.close();
      this.opts.onState?.(false, err);
      return this.retry();
    }
    this.connecting = false;
    if (this.closed) return;
    const es = new EventSource(url, { withCredentials: true });
    this.es = es;
    es.onopen = () => {
      this.attempt = 0;
      this.opts.onState?.(true);
    };
    es.onmessage = (ev) => {
      let data: unknown;
      try {
        data = JSON.parse(ev.data);
      } catch {
        return;
      }
      const err = (data as { error?: { http_code?: number; message?: string } }).error;
      if (err) {
        es.close();
        this.es = undefined;
        if (err.http_code === 401) {
          this.close();
          goLogin();
          return;
        }
        this.opts.onState?.(false, new ApiError(err.http_code ?? 0, err.message ?? 'stream error'));
        this.retry();
        return;
      }
      this.opts.onData(data);
    };
    es.onerror = () => {
      es.close();
      if (this.es === es) this.es = undefined;
      void this.probe(url);
    };
  }

  /** After a failed stream, one plain request tells why (401 stops; anything else retries). */
  private async probe(url: string): Promise<void> {
    const ctl = new AbortController();
    let status = 0;
    try {
      const res = await fetch(url, { credentials: 'same-origin', signal: ctl.signal, headers: { Accept: 'text/event-stream' } });
      status = res.status;
    } catch {
      status = 0;
    } finally {
      ctl.abort();
    }
    if (this.closed) return;
    if (status === 401) {
      this.close();
      goLogin();
      return;
    }
    this.opts.onState?.(false, new ApiError(status, status ? `stream failed (HTTP ${status})` : 'the server could not be reached'));
    this.retry();
  }

  private retry(): void {
    if (this.closed) return;
    const delay = Math.min(30000, 500 * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 10);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = window.setTimeout(() => {
      this.timer = undefined;
      if (document.visibilityState === 'hidden') return; // onVisible reconnects
      void this.connect();
    }, delay);
  }
}

/** The parts of an Application the UI reads. */
export interface Application {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; creationTimestamp?: string; resourceVersion?: string; deletionTimestamp?: string };
  spec: {
    project?: string;
    destination?: { server?: string; name?: string; namespace?: string };
    source?: { repoURL?: string; path?: string; targetRevision?: string; chart?: string };
    sources?: { repoURL?: string; path?: string; targetRevision?: string }[];
    syncPolicy?: { automated?: unknown };
  };
  status?: {
    sync?: { status?: string; revision?: string };
    health?: { status?: string; message?: string };
    conditions?: { type: string; message?: string; lastTransitionTime?: string }[];
    resources?: ResourceStatus[];
    history?: HistoryEntry[];
    operationState?: OperationState;
    reconciledAt?: string;
  };
  operation?: unknown;
}

/** One entry of `status.resources`. */
export interface ResourceStatus {
  group?: string;
  version?: string;
  kind: string;
  namespace?: string;
  name: string;
  status?: string;
  health?: { status?: string; message?: string };
  requiresPruning?: boolean;
}

/** One entry of `status.history`. */
export interface HistoryEntry {
  id: number;
  revision?: string;
  deployedAt?: string;
  deployStartedAt?: string;
  source?: { repoURL?: string; path?: string; targetRevision?: string };
  initiatedBy?: { username?: string; automated?: boolean };
}

/** `status.operationState`. */
export interface OperationState {
  phase?: string;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
  syncResult?: { revision?: string; resources?: { kind: string; name: string; namespace?: string; status?: string; message?: string; hookPhase?: string }[] };
}

/** A resource-tree node. */
export interface TreeNode {
  group?: string;
  version?: string;
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
  parentRefs?: { group?: string; kind: string; namespace?: string; name: string; uid?: string }[];
  info?: { name: string; value: string }[];
  health?: { status?: string; message?: string };
  images?: string[];
  createdAt?: string;
}

/** `{nodes, orphanedNodes}`. */
export interface Tree {
  nodes?: TreeNode[];
  orphanedNodes?: TreeNode[];
}
