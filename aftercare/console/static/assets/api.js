// The console's only way to the server: the public API, with the tokens held in this module's memory
// (never in storage, cookies or URLs), refreshed before they expire and once more on a 401.

export class ApiError extends Error {
  /** An RFC 9457 problem: clients branch on `type` and `status`, and show `detail`. */
  constructor(status, problem, headers) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.type = problem?.type ?? "";
    this.title = problem?.title ?? "";
    this.detail = problem?.detail ?? "";
    this.errors = Array.isArray(problem?.errors) ? problem.errors : [];
    this.problem = problem ?? {};
    const retry = Number(headers?.get("Retry-After"));
    this.retryAfter = Number.isFinite(retry) && retry > 0 ? retry : null;
  }
}

/** What went wrong, for a sentence that starts "Not saved: ": each field the server named with its
 * message, else the problem's detail. */
export function problemText(error) {
  if (error instanceof ApiError && error.errors.length) {
    return error.errors.map((e) => `${e.field.replaceAll("_", " ")}: ${e.message}`).join("; ");
  }
  return error?.detail || error?.message || "the server refused the change";
}

// Refresh this long before the access token's expiry, so a request rarely meets a 401.
const REFRESH_MARGIN_MS = 30_000;
const MAX_PAGES = 50;

export class Api {
  #tokens = null; // {access, refresh, expiresAt, role, userId}
  #refreshing = null; // one refresh at a time: refresh tokens rotate, and a reused one revokes them all

  constructor({ onSessionEnded } = {}) {
    this.onSessionEnded = onSessionEnded ?? (() => {});
  }

  get signedIn() {
    return this.#tokens !== null;
  }

  get role() {
    return this.#tokens?.role ?? null;
  }

  get userId() {
    return this.#tokens?.userId ?? null;
  }

  async signIn(email, password) {
    const response = await this.#send("POST", "/v1/auth/token", { body: { email, password }, auth: false });
    this.#keep(response.body);
    return response.body;
  }

  signOut() {
    this.#tokens = null;
    this.#refreshing = null;
  }

  #keep(pair) {
    this.#tokens = {
      access: pair.access_token,
      refresh: pair.refresh_token,
      expiresAt: Date.now() + pair.expires_in * 1000,
      role: pair.role,
      userId: pair.user_id,
    };
  }

  /** A new token pair; a refresh token that fails ends the session (it may have been revoked). */
  refresh() {
    if (!this.#tokens) return Promise.reject(new ApiError(401, { detail: "not signed in" }));
    if (!this.#refreshing) {
      const refreshToken = this.#tokens.refresh;
      this.#refreshing = this.#send("POST", "/v1/auth/refresh", { body: { refresh_token: refreshToken }, auth: false })
        .then((response) => {
          if (this.#tokens?.refresh === refreshToken) this.#keep(response.body);
        })
        .catch((error) => {
          if (error instanceof ApiError && error.status === 401 && this.#tokens?.refresh === refreshToken) {
            this.#tokens = null;
            this.onSessionEnded("expired");
          }
          throw error;
        })
        .finally(() => {
          this.#refreshing = null;
        });
    }
    return this.#refreshing;
  }

  /** Send a request as the signed-in user; returns {status, headers, body}; throws ApiError. */
  async request(method, path, options = {}) {
    if (!this.#tokens) throw new ApiError(401, { detail: "not signed in" });
    if (this.#tokens.expiresAt - Date.now() < REFRESH_MARGIN_MS) await this.refresh();
    try {
      return await this.#send(method, path, options);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401 || !this.#tokens) throw error;
      await this.refresh(); // the token expired early, or the server's clock runs ahead of ours
      return this.#send(method, path, options);
    }
  }

  async get(path, query) {
    return (await this.request("GET", path, { query })).body;
  }

  async post(path, body) {
    return (await this.request("POST", path, { body })).body;
  }

  /** Every item of a list, following `next_cursor` (bounded: a caseload is not a data export). */
  async all(path, query = {}) {
    const items = [];
    let cursor = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const body = await this.get(path, { limit: 200, ...query, ...(cursor ? { cursor } : {}) });
      items.push(...body.items);
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    return items;
  }

  async #send(method, path, { query, body, headers = {}, auth = true } = {}) {
    const url = new URL(path, window.location.origin);
    for (const [name, value] of Object.entries(query ?? {})) {
      for (const one of [value].flat()) if (one !== undefined && one !== null && one !== "") url.searchParams.append(name, one);
    }
    const sent = { Accept: "application/json", ...headers };
    if (auth && this.#tokens) sent.Authorization = `Bearer ${this.#tokens.access}`;
    if (body !== undefined) sent["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store", // health data stays out of the browser's HTTP cache
        credentials: "omit",
        redirect: "error",
      });
    } catch {
      throw new ApiError(0, { title: "Network error", detail: "The server could not be reached. Check the connection and try again." });
    }
    const text = await response.text();
    let parsed = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
    if (!response.ok) throw new ApiError(response.status, parsed, response.headers);
    return { status: response.status, headers: response.headers, body: parsed };
  }
}
