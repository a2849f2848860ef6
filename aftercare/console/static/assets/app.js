// The console's shell: sign-in state, the header, client-side routes, the live alert stream.
// Every screen is a module under screens/ with `render(ctx)`; it may return a cleanup function.

import { Api } from "./api.js";
import { fill, h } from "./dom.js";
import { AlertStream } from "./stream.js";
import { Store } from "./store.js";
import { SEVERITY, ruleLabel } from "./format.js";
import * as alertScreen from "./screens/alert.js";
import * as caseloadScreen from "./screens/caseload.js";
import * as coverageScreen from "./screens/coverage.js";
import * as feedScreen from "./screens/feed.js";
import * as graduateScreen from "./screens/graduate.js";
import * as notFoundScreen from "./screens/not-found.js";
import * as signInScreen from "./screens/signin.js";

const UUID = "([0-9a-fA-F-]{36})";
const ROUTES = [
  { pattern: new RegExp("^/console/?$"), screen: feedScreen, nav: "alerts" },
  { pattern: new RegExp("^/console/alerts/?$"), screen: feedScreen, nav: "alerts" },
  { pattern: new RegExp(`^/console/alerts/${UUID}/?$`), screen: alertScreen, nav: "alerts", params: ["alertId"] },
  { pattern: new RegExp("^/console/caseload/?$"), screen: caseloadScreen, nav: "caseload" },
  { pattern: new RegExp(`^/console/graduates/${UUID}/?$`), screen: graduateScreen, nav: "caseload", params: ["graduateId"] },
  { pattern: new RegExp("^/console/coverage/?$"), screen: coverageScreen, nav: "coverage" },
];
// If the stream cannot open (a proxy that buffers, a network that drops it), show the feed anyway.
const FEED_WITHOUT_STREAM_MS = 4000;

class ConsoleApp {
  constructor() {
    this.main = document.getElementById("main");
    this.header = document.getElementById("topbar");
    this.announcer = document.getElementById("announcer");
    this.api = new Api({ onSessionEnded: () => this.endSession("Your session has ended. Sign in again to continue.") });
    this.store = new Store(this.api);
    this.stream = new AlertStream(this.api, {
      onAlert: (alert) => this.store.applyAlert(alert, { live: true }),
      onStatus: (status, info) => this.onStreamStatus(status, info),
    });
    this.cleanup = null;
    this.renderCount = 0;
    this.store.subscribe((change) => this.onStoreChange(change));
  }

  start() {
    document.addEventListener("click", (event) => this.followLink(event));
    window.addEventListener("popstate", () => this.render());
    // A click on a push notification, passed on by the service worker (sw.js): shown here, in the
    // open console, which keeps its sign-in.
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.addEventListener("message", (event) => this.openFromWorker(event.data));
      navigator.serviceWorker.startMessages();
    }
    this.render();
  }

  followLink(event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = event.target.closest("a[href]");
    if (!link || link.target || link.origin !== window.location.origin || !link.pathname.startsWith("/console")) return;
    event.preventDefault();
    this.navigate(link.pathname + link.search);
  }

  openFromWorker(message) {
    if (message?.type !== "open" || typeof message.url !== "string") return;
    const url = new URL(message.url, window.location.origin);
    if (url.origin === window.location.origin && url.pathname.startsWith("/console")) this.navigate(url.pathname + url.search);
  }

  navigate(path, { replace = false } = {}) {
    if (replace) window.history.replaceState(null, "", path);
    else window.history.pushState(null, "", path);
    this.render();
  }

  async render() {
    this.cleanup?.();
    this.cleanup = null;
    const renderId = ++this.renderCount;
    const path = window.location.pathname;
    if (!this.api.signedIn) {
      this.header.hidden = true;
      document.title = "Sign in · Aftercare";
      signInScreen.render(this.context({}, renderId));
      return;
    }
    const route = ROUTES.find((candidate) => candidate.pattern.test(path));
    const params = {};
    if (route) {
      const match = path.match(route.pattern);
      (route.params ?? []).forEach((name, index) => {
        params[name] = match[index + 1].toLowerCase();
      });
    }
    this.markNav(route?.nav);
    const screen = route?.screen ?? notFoundScreen;
    fill(this.main, h("p", { class: "loading" }, "Loading…"));
    try {
      const cleanup = await screen.render(this.context(params, renderId));
      if (renderId === this.renderCount) this.cleanup = typeof cleanup === "function" ? cleanup : null;
      else if (typeof cleanup === "function") cleanup();
    } catch (error) {
      if (renderId !== this.renderCount) return;
      fill(
        this.main,
        h("h1", { tabindex: "-1" }, "This page could not be shown"),
        h("p", { class: "message message-error", role: "alert" }, error?.detail || error?.message || String(error)),
      );
    }
    if (renderId === this.renderCount) this.main.querySelector("h1")?.focus({ preventScroll: true });
  }

  context(params, renderId) {
    return {
      app: this,
      api: this.api,
      store: this.store,
      stream: this.stream,
      main: this.main,
      params,
      navigate: (path, options) => this.navigate(path, options),
      announce: (text) => this.announce(text),
      current: () => renderId === this.renderCount,
      setTitle: (title) => {
        document.title = `${title} · Aftercare`;
      },
    };
  }

  /** Called by the sign-in screen with the new session; goes on to where the user was headed. */
  async signedIn() {
    this.store.reset();
    this.store.me = await this.api.get("/v1/me");
    await this.store.loadStaff();
    this.buildHeader();
    this.stream.start();
    this.feedFallback = setTimeout(() => {
      if (this.store.feedState === "idle") this.store.loadFeed();
    }, FEED_WITHOUT_STREAM_MS);
    const path = window.location.pathname.startsWith("/console") ? window.location.pathname : "/console";
    this.navigate(path + window.location.search, { replace: true });
  }

  endSession(message) {
    clearTimeout(this.feedFallback);
    this.stream.stop();
    this.api.signOut();
    this.store.reset();
    this.header.hidden = true;
    fill(this.header);
    signInScreen.setNotice(message);
    this.render();
  }

  signOut() {
    this.endSession("You are signed out.");
  }

  onStreamStatus(status, info) {
    const indicator = document.getElementById("stream-status");
    if (indicator) {
      const labels = {
        connecting: "Connecting…",
        live: "Live",
        reconnecting: "Reconnecting…",
        stopped: "Not live",
      };
      indicator.dataset.streamStatus = status;
      indicator.dataset.connections = String(this.stream.connections);
      fill(indicator, h("span", { class: "dot", "aria-hidden": "true" }), labels[status] ?? status);
      indicator.title =
        status === "live" ? "New and changed alerts appear here as they happen" : "Alerts may be out of date until the connection is back";
    }
    if (status === "live" && (this.store.feedState === "idle" || info.reload)) this.store.loadFeed();
  }

  onStoreChange(change) {
    if (change.kind === "alert" || change.kind === "feed") this.updateAlertCount();
    if (change.kind === "alert" && (change.isNew || change.raised)) {
      const alert = change.alert;
      const severity = SEVERITY[alert.severity]?.label ?? alert.severity;
      this.store
        .graduate(alert.graduate_id)
        .catch(() => null)
        .then((graduate) => {
          const name = graduate?.display_name ?? "a graduate";
          this.announce(`${change.isNew ? "New" : "Raised"} ${severity.toLowerCase()} alert for ${name}: ${ruleLabel(alert.rule)}`);
        });
    }
  }

  updateAlertCount() {
    const badge = document.getElementById("nav-alert-count");
    if (!badge) return;
    const open = [...this.store.feed.values()].filter((alert) => alert.status === "open").length;
    badge.hidden = open === 0;
    fill(badge, String(open));
    badge.setAttribute("aria-label", `${open} open`);
  }

  announce(text) {
    // Cleared first so the same sentence twice is read twice.
    this.announcer.textContent = "";
    window.setTimeout(() => {
      this.announcer.textContent = text;
    }, 50);
  }

  buildHeader() {
    const me = this.store.me;
    fill(
      this.header,
      h(
        "div",
        { class: "topbar-inner" },
        h("a", { class: "brand", href: "/console" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "A"), "Aftercare"),
        h(
          "nav",
          { "aria-label": "Main" },
          h("a", { href: "/console/alerts", "data-nav": "alerts" }, "Alerts", h("span", { class: "count", id: "nav-alert-count", hidden: true })),
          h("a", { href: "/console/caseload", "data-nav": "caseload" }, "Caseload"),
          h("a", { href: "/console/coverage", "data-nav": "coverage" }, "Coverage"),
        ),
        h("div", { class: "live-status", id: "stream-status", "data-stream-status": "connecting", role: "status" }, "Connecting…"),
        h(
          "div",
          { class: "who" },
          h("span", { class: "who-name" }, me.display_name),
          h("span", { class: "who-role" }, me.role === "supervisor" ? "Supervisor" : "Counselor"),
          h("button", { type: "button", class: "button-quiet", onclick: () => this.signOut() }, "Sign out"),
        ),
      ),
    );
    this.header.hidden = false;
    this.updateAlertCount();
  }

  markNav(section) {
    for (const link of this.header.querySelectorAll("[data-nav]")) {
      if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }
}

// A module script runs once the document is parsed: the shell's elements are there.
new ConsoleApp().start();
