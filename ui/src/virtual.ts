// A virtualized scroller: only the rows (or tile rows) in view, plus a few, are in the DOM.
// Roving focus: the focused item has tabindex 0, arrows move it, Enter activates it.

/** How a virtual list draws and activates items. */
export interface VirtualOptions<T> {
  /** Height of one row in pixels. */
  rowHeight: number;
  /** Minimum item width for a grid (tiles); omit for one item a row. */
  minItemWidth?: number;
  /** Draws one item (the element gets positioned and tabindex by the list). */
  render: (item: T, index: number) => HTMLElement;
  /** Enter or click on an item. */
  activate: (item: T, index: number) => void;
  /** Class of the scroll container. */
  className?: string;
  /** Accessible label. */
  label?: string;
}

/** The scroller. Put `el` in a box with a height (it fills it and scrolls). */
export class VirtualList<T> {
  readonly el: HTMLElement;
  private readonly inner: HTMLElement;
  private items: T[] = [];
  private focused = 0;
  private frame = 0;
  private cols = 1;
  private readonly ro: ResizeObserver;

  constructor(private opts: VirtualOptions<T>) {
    this.el = document.createElement('div');
    this.el.className = `vlist ${opts.className ?? ''}`;
    this.el.setAttribute('role', 'grid');
    if (opts.label) this.el.setAttribute('aria-label', opts.label);
    this.inner = document.createElement('div');
    this.inner.className = 'vlist-inner';
    this.el.appendChild(this.inner);
    this.el.addEventListener('scroll', () => this.schedule(), { passive: true });
    this.el.addEventListener('keydown', (e) => this.onKey(e));
    this.el.addEventListener('click', (e) => {
      const item = (e.target as Element).closest<HTMLElement>('[data-index]');
      if (!item || (e.target as Element).closest('a')) return;
      const i = Number(item.dataset.index);
      this.focused = i;
      this.opts.activate(this.items[i], i);
    });
    this.ro = new ResizeObserver(() => this.schedule());
    this.ro.observe(this.el);
  }

  /** Replaces the items and redraws now (synchronously, so a caller can measure it). */
  setItems(items: T[]): void {
    this.items = items;
    if (this.focused >= items.length) this.focused = Math.max(0, items.length - 1);
    this.draw();
  }

  /** Stops observing the size. */
  destroy(): void {
    this.ro.disconnect();
    cancelAnimationFrame(this.frame);
  }

  private schedule(): void {
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => this.draw());
  }

  private draw(): void {
    const rh = this.opts.rowHeight;
    const width = this.el.clientWidth || 800;
    this.cols = this.opts.minItemWidth ? Math.max(1, Math.floor(width / this.opts.minItemWidth)) : 1;
    const rows = Math.ceil(this.items.length / this.cols);
    this.inner.style.height = `${rows * rh}px`;
    const height = this.el.clientHeight || window.innerHeight;
    const first = Math.max(0, Math.floor(this.el.scrollTop / rh) - 4);
    const last = Math.min(rows - 1, Math.ceil((this.el.scrollTop + height) / rh) + 4);
    const hadFocus = this.el.contains(document.activeElement) && document.activeElement !== this.el;
    const frag = document.createDocumentFragment();
    let toFocus: HTMLElement | undefined;
    const w = 100 / this.cols;
    for (let r = first; r <= last; r++) {
      for (let c = 0; c < this.cols; c++) {
        const i = r * this.cols + c;
        if (i >= this.items.length) break;
        const el = this.opts.render(this.items[i], i);
        el.dataset.index = String(i);
        el.tabIndex = i === this.focused ? 0 : -1;
        el.style.position = 'absolute';
        el.style.top = `${r * rh}px`;
        el.style.height = `${rh}px`;
        el.style.left = `${c * w}%`;
        el.style.width = `${w}%`;
        if (i === this.focused) toFocus = el;
        frag.appendChild(el);
      }
    }
    this.inner.replaceChildren(frag);
    if (hadFocus && toFocus) toFocus.focus({ preventScroll: true });
  }

  private onKey(e: KeyboardEvent): void {
    if (!(e.target as Element).matches('[data-index]')) return;
    const n = this.items.length;
    if (!n) return;
    let i = this.focused;
    const page = Math.max(1, Math.floor(this.el.clientHeight / this.opts.rowHeight)) * this.cols;
    switch (e.key) {
      case 'ArrowDown': i += this.cols; break;
      case 'ArrowUp': i -= this.cols; break;
      case 'ArrowRight': if (this.cols === 1) return; i += 1; break;
      case 'ArrowLeft': if (this.cols === 1) return; i -= 1; break;
      case 'PageDown': i += page; break;
      case 'PageUp': i -= page; break;
      case 'Home': i = 0; break;
      case 'End': i = n - 1; break;
      case 'Enter':
        e.preventDefault();
        this.opts.activate(this.items[this.focused], this.focused);
        return;
      default:
        return;
    }
    e.preventDefault();
    this.focused = Math.min(n - 1, Math.max(0, i));
    const row = Math.floor(this.focused / this.cols);
    const rh = this.opts.rowHeight;
    if (row * rh < this.el.scrollTop) this.el.scrollTop = row * rh;
    else if ((row + 1) * rh > this.el.scrollTop + this.el.clientHeight) this.el.scrollTop = (row + 1) * rh - this.el.clientHeight;
    this.draw();
    (this.inner.querySelector(`[data-index="${this.focused}"]`) as HTMLElement | null)?.focus({ preventScroll: true });
  }
}
