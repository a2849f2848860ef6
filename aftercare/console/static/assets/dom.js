// Building the page without HTML strings: every name, note and reason a graduate or colleague wrote
// is set as text (a text node or textContent), never parsed. The server's Content-Security-Policy
// backs this up with Trusted Types: assigning a string to innerHTML throws.

const BOOLEAN_PROPERTIES = new Set(["hidden", "disabled", "checked", "required", "selected", "open", "readOnly"]);

/**
 * h("button", {class: "primary", onclick: save, "aria-describedby": "x"}, "Save")
 * Props: `class`, `text`, `value`, event handlers as `on<event>`, boolean properties, any attribute.
 * Children: nodes, strings (as text), numbers, arrays of those; null, undefined and false are skipped.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "text") element.textContent = String(value);
    else if (key === "value") element.value = value;
    else if (key === "style") throw new Error("set styles with classes: the CSP forbids style attributes");
    else if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2), value);
    else if (BOOLEAN_PROPERTIES.has(key)) element[key] = Boolean(value);
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace everything inside `element` with `children`. */
export function fill(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

let uniqueCounter = 0;
/** An id for label/aria wiring: `prefix-<n>`, unique in this page. */
export function uid(prefix = "id") {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

/** A labelled form field: the label's `for` points at the control. */
export function field(labelText, control, hint) {
  const id = control.id || uid("field");
  control.id = id;
  const hintNode = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
  return h("div", { class: "field" }, h("label", { for: id }, labelText), hintNode, control);
}

/** A message area that screen readers read out when its text changes. */
export function statusArea(kind = "status") {
  return h("div", { class: `message message-${kind}`, role: kind === "alert" ? "alert" : "status", hidden: true });
}

export function showMessage(area, text, tone = "info") {
  area.className = `message message-${tone}`;
  area.hidden = !text;
  fill(area, text ?? "");
}

/** A random UUID (v4). crypto.randomUUID exists only in secure contexts; a console opened over
 * plain http on a LAN address still needs idempotency keys. */
export function uuid4() {
  if (window.isSecureContext && crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
