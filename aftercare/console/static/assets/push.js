// What the service worker (../sw.js) shows for a push and where a click on it leads: pure
// functions of the payload, so the page can use (and the tests can check) the very same code.
//
// Lock screens are public. Staff payloads are generic by contract (`{type, title, body, url, tag,
// id}`: the alert's severity, never a name or a note); the worker shows that text and nothing it
// could look up, and falls back to fixed words when a field is missing or not text.

const FALLBACK_TITLE = "Aftercare";
const FALLBACK_BODY = "Open the console to review.";
const TITLE_CHARS = 80;
const BODY_CHARS = 160;
// Where a push without a usable console link leads: the alert feed.
const FALLBACK_PATH = "/console/alerts";

function text(value, most) {
  return typeof value === "string" ? value.trim().slice(0, most) : "";
}

/** The decoded push body, or null when it is not a JSON object. */
export function payloadOf(raw) {
  try {
    const value = JSON.parse(raw);
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** `showNotification`'s arguments for a payload: its generic title and body, its tag (a repeat of
 * an at-least-once delivery replaces the first instead of showing twice) and its link. */
export function notificationOf(payload) {
  const data = payload ?? {};
  const tag = text(data.tag, 100);
  return {
    title: text(data.title, TITLE_CHARS) || FALLBACK_TITLE,
    options: {
      body: text(data.body, BODY_CHARS) || FALLBACK_BODY,
      icon: "/console/assets/icon.svg",
      ...(tag ? { tag } : {}),
      // An escalation waits on screen until someone acts on it.
      requireInteraction: data.type === "escalation",
      data: { url: text(data.url, 2000), id: text(data.id, 100) },
    },
  };
}

/** The console page a click opens: the payload's link when it is a console path on this origin
 * (`/console/alerts/{id}`), else the alert feed. Never another origin. */
export function targetOf(data, origin) {
  try {
    const url = new URL(text(data?.url, 2000) || FALLBACK_PATH, origin);
    if (url.origin === origin && /^\/console(\/|$)/.test(url.pathname)) return url.href;
  } catch {
    // not a URL: the feed below
  }
  return new URL(FALLBACK_PATH, origin).href;
}
