/** A child of {@link h}: text is always a text node (never parsed as HTML), falsy values are skipped. */
export type Child = Node | string | number | null | undefined | false;

type Attributes = Record<string, string | boolean | number | ((event: Event) => void) | undefined>;

/**
 * Builds an element: `on<event>` attributes become listeners, `true`/`false` toggle boolean attributes, anything
 * else is set as an attribute. Every value from Airflow reaches the page through here, as text.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

export function append(parent: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === 'number' ? String(child) : child);
  }
}

/** Replaces the content of `parent`. */
export function show(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}
