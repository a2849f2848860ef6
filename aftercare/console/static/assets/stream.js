// Live alerts: Server-Sent Events from GET /v1/alerts/stream.
//
// EventSource cannot send an Authorization header, so each connection is opened with a single-use
// ticket from POST /v1/auth/stream-ticket. EventSource's own reconnect would reuse the URL and so
// the spent ticket; instead, on any error this closes the connection, waits (backing off), takes a
// new ticket and opens a new stream with `?last_event_id=` set to the last event it saw: the
// server then sends exactly what was missed, from its durable event log.

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

export class AlertStream {
  #source = null;
  #timer = null;
  #attempt = 0;
  #stopped = true;

  /**
   * onAlert(alert, eventId): an alert's current state, as it opened, rose, escalated, was
   * acknowledged or resolved. onStatus("connecting" | "live" | "reconnecting" | "stopped", {resumed}).
   */
  constructor(api, { onAlert, onStatus }) {
    this.api = api;
    this.onAlert = onAlert;
    this.onStatus = onStatus ?? (() => {});
    this.lastEventId = null;
    this.connections = 0;
  }

  start() {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#connect();
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#source?.close();
    this.#source = null;
    this.onStatus("stopped", {});
  }

  async #connect() {
    if (this.#stopped) return;
    this.onStatus(this.connections === 0 ? "connecting" : "reconnecting", {});
    let ticket;
    try {
      ticket = (await this.api.post("/v1/auth/stream-ticket")).ticket;
    } catch {
      this.#retry();
      return;
    }
    if (this.#stopped) return;
    const url = new URL("/v1/alerts/stream", window.location.origin);
    url.searchParams.set("ticket", ticket);
    if (this.lastEventId !== null) url.searchParams.set("last_event_id", this.lastEventId);
    const resumed = this.lastEventId !== null;
    const first = this.connections === 0;
    const source = new EventSource(url);
    this.#source = source;
    source.addEventListener("open", () => {
      this.#attempt = 0;
      this.connections += 1;
      // `resumed`: the server replays what was missed. A reconnect that had seen no event yet
      // cannot resume, so the caller reloads what it shows (`reload`).
      this.onStatus("live", { resumed, reload: !first && !resumed });
    });
    source.addEventListener("alert", (event) => {
      if (event.lastEventId) this.lastEventId = event.lastEventId;
      let alert;
      try {
        alert = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onAlert(alert, Number(event.lastEventId));
    });
    source.addEventListener("error", () => {
      if (this.#source !== source) return;
      source.close(); // never let EventSource retry with the spent ticket
      this.#source = null;
      this.#retry();
    });
  }

  #retry() {
    if (this.#stopped) return;
    this.onStatus("reconnecting", {});
    const base = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.#attempt);
    this.#attempt += 1;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#connect(), base / 2 + Math.random() * (base / 2));
  }
}
