// The console's service worker: shows staff push notifications and opens the console on a click.
// Served at /console/sw.js (scope /console/) as a module; what it shows and where a click leads are
// the pure functions of assets/push.js. It caches nothing: the console is always read fresh.

import { notificationOf, payloadOf, targetOf } from "./assets/push.js";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  // Chromium requires a notification for every push (userVisibleOnly): even an unreadable one
  // shows the fixed words.
  const { title, options } = notificationOf(event.data ? payloadOf(event.data.text()) : null);
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openConsole(targetOf(event.notification.data, self.location.origin)));
});

/** An open console is asked to show the page (it keeps its sign-in, which lives in its memory) and
 * is brought forward; without one, a new window opens there. */
async function openConsole(url) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((client) => new URL(client.url).pathname.startsWith("/console"));
  if (!open) return self.clients.openWindow(url);
  open.postMessage({ type: "open", url });
  return open.focus();
}
