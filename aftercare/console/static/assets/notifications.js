// Browser push for staff: "Turn on notifications" asks the browser's permission, registers the
// console's service worker (/console/sw.js), subscribes with the server's VAPID key
// (GET /v1/push/vapid-public-key) and hands the subscription to the server
// (POST /v1/push/subscriptions; the same browser again moves it to whoever is signed in, as on a
// shared tablet). Each step that can fail says so in a plain sentence.

import { ApiError } from "./api.js";
import { fill, h, showMessage, statusArea } from "./dom.js";

const WORKER_URL = "/console/sw.js";
const SCOPE = "/console/";
// Registering a worker is a Trusted Types sink: the console's policy (CSP `trusted-types
// aftercare-worker`) is made here, once, and admits the console's own worker and nothing else.
const workerPolicy = window.trustedTypes?.createPolicy("aftercare-worker", {
  createScriptURL(url) {
    if (url !== WORKER_URL) throw new TypeError("only the console's own service worker may be registered");
    return url;
  },
});

// A push service that never answers (a network that blocks it) must not leave the button spinning.
const SUBSCRIBE_WITHIN_MS = 15_000;

class PushProblem extends Error {}

function within(promise, ms) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("no answer in time")), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

/** The VAPID key as the bytes `pushManager.subscribe` wants (it is URL-safe base64). */
function keyBytes(base64url) {
  const base64 = base64url.replaceAll("-", "+").replaceAll("_", "/").padEnd(Math.ceil(base64url.length / 4) * 4, "=");
  return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
}

/** The registration once its worker is active (subscribing needs one). Not
 * `navigator.serviceWorker.ready`: that waits for a worker whose scope holds the URL the page was
 * opened at, and `/console` itself is not inside `/console/`. */
function activated(registration) {
  const worker = registration.installing ?? registration.waiting;
  if (!worker) return Promise.resolve(registration);
  return new Promise((resolve, reject) => {
    worker.addEventListener("statechange", () => {
      if (worker.state === "activated") resolve(registration);
      else if (worker.state === "redundant") reject(new Error("the worker did not start"));
    });
  });
}

async function existingSubscription() {
  const registration = await navigator.serviceWorker.getRegistration(SCOPE);
  return (await registration?.pushManager.getSubscription()) ?? null;
}

/** Turns notifications on for this browser and the signed-in staff member; throws PushProblem
 * with the sentence to show. */
async function turnOnNotifications(api) {
  if (!pushSupported()) throw new PushProblem("This browser cannot show notifications from the console.");
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    throw new PushProblem("Notifications are blocked for this site. Allow them in the browser's site settings, then try again.");
  }
  let registration;
  try {
    const registered = await navigator.serviceWorker.register(workerPolicy?.createScriptURL(WORKER_URL) ?? WORKER_URL, { scope: SCOPE, type: "module" });
    registration = await within(activated(registered), SUBSCRIBE_WITHIN_MS);
  } catch (error) {
    throw new PushProblem(`Notifications could not be turned on: the browser refused the console's notification worker (${error?.message || error}).`);
  }
  let subscription;
  try {
    const { public_key: key } = await api.get("/v1/push/vapid-public-key");
    subscription =
      (await registration.pushManager.getSubscription()) ??
      (await within(registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) }), SUBSCRIBE_WITHIN_MS));
  } catch (error) {
    if (error instanceof ApiError) throw new PushProblem(`Notifications could not be turned on: ${error.detail || "the server did not answer"}.`);
    throw new PushProblem(
      "Notifications could not be turned on: this browser could not subscribe with its push service (a private window cannot, and some networks block it). New alerts still show in this console while it is open.",
    );
  }
  try {
    await api.post("/v1/push/subscriptions", subscription.toJSON());
  } catch (error) {
    throw new PushProblem(`Notifications could not be turned on: the server did not take this browser's subscription (${error?.detail || error?.message || "no answer"}).`);
  }
}

/** The card on the coverage page: the state of this browser's notifications and the button. */
export function notificationsCard(ctx) {
  const message = statusArea("alert");
  const state = h("p", { class: "notifications-state" });
  const button = h("button", { type: "button", class: "button-primary" }, "Turn on notifications");
  const box = h(
    "section",
    { class: "card notifications-card", "aria-labelledby": "notifications-title" },
    h("h2", { id: "notifications-title" }, "Notifications on this browser"),
    state,
    message,
    h("div", { class: "actions" }, button),
    h("p", { class: "hint" }, "Lock screens are public: a notification says only that an alert needs you and how severe it is, never who it is about."),
  );

  function show(kind, text) {
    box.dataset.state = kind;
    fill(state, text);
    button.hidden = kind === "on" || kind === "unsupported";
    fill(button, kind === "found" ? "Send my alerts to this browser" : "Turn on notifications");
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    showMessage(message, "");
    try {
      await turnOnNotifications(ctx.api);
      show("on", "Notifications are on: this browser shows an alert even when the console is closed.");
      ctx.announce("Notifications are on.");
    } catch (error) {
      show("off", "Notifications are off for this browser.");
      showMessage(message, error instanceof PushProblem ? error.message : "Notifications could not be turned on. Try again.", "error");
    } finally {
      button.disabled = false;
    }
  });

  if (!pushSupported()) show("unsupported", "This browser cannot show notifications from the console.");
  else {
    show("off", Notification.permission === "denied" ? "Notifications are blocked for this site in the browser's settings." : "Notifications are off for this browser.");
    existingSubscription()
      .then((subscription) => {
        // Whose it is the server knows, not the browser: on a shared computer it may be the last
        // person's. Sending it again makes it the signed-in person's.
        if (subscription) show("found", "Notifications are on for this browser. If someone else used it before you, send your alerts here.");
      })
      .catch(() => null);
  }
  return box;
}
