// What the console knows while it is open: the alerts that need a counselor (open and acknowledged),
// kept current by the stream; graduates and staff by id, for names. Screens read it and subscribe to
// its changes; only the API and the stream write it.

// A screenful: the caseload asks for more with "Load more" rather than fetching everyone.
const CASELOAD_PAGE = 50;

export class Store {
  constructor(api) {
    this.api = api;
    this.listeners = new Set();
    this.reset();
  }

  reset() {
    this.me = null;
    this.feed = new Map(); // open and acknowledged alerts by id
    this.seen = new Map(); // every alert this session has seen, resolved ones too (the alert page)
    this.feedState = "idle"; // idle | loading | ready | failed
    this.queued = []; // stream events that arrived while the feed was loading
    this.graduates = new Map();
    this.graduateRequests = new Map();
    this.staff = new Map();
    this.caseloadLoaded = false;
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change) {
    for (const listener of [...this.listeners]) listener(change);
  }

  /** The feed from the API: called once the stream is open, so nothing falls between the two. */
  async loadFeed() {
    this.feedState = "loading";
    this.emit({ kind: "feed" });
    try {
      const items = await this.api.all("/v1/alerts", { status: ["open", "acknowledged"] });
      this.feed = new Map(items.map((alert) => [alert.id, alert]));
      for (const alert of items) this.seen.set(alert.id, alert);
      this.feedState = "ready";
      const queued = this.queued;
      this.queued = [];
      for (const alert of queued) this.applyAlert(alert, { live: true });
      await this.namesFor(items.map((alert) => alert.graduate_id));
    } catch (error) {
      this.feedState = "failed";
      this.feedError = error;
    }
    this.emit({ kind: "feed" });
  }

  /** An alert's new state, from the stream or from an answer to our own action. */
  applyAlert(alert, { live = false } = {}) {
    if (this.feedState === "loading") {
      this.queued.push(alert);
      return;
    }
    const before = this.feed.get(alert.id);
    this.seen.set(alert.id, alert);
    if (alert.status === "resolved") this.feed.delete(alert.id);
    else this.feed.set(alert.id, alert);
    const isNew = live && !before && alert.status !== "resolved";
    const raised = live && before && (before.severity !== alert.severity || (before.status !== "open" && alert.status === "open"));
    this.emit({ kind: "alert", alert, isNew, raised: Boolean(raised) });
    if (!this.graduates.has(alert.graduate_id)) this.namesFor([alert.graduate_id]);
  }

  graduateName(id) {
    return this.graduates.get(id)?.display_name ?? null;
  }

  /** Loads the graduates behind these ids (one request each for those not known yet). */
  async namesFor(ids) {
    const missing = [...new Set(ids)].filter((id) => !this.graduates.has(id));
    if (missing.length === 0) return;
    if (missing.length > 3 && !this.caseloadLoaded) {
      // Many names at once (the feed's first load): the whole caseload in a few pages is cheaper.
      await this.api
        .all("/v1/graduates")
        .then((items) => {
          this.remember(items);
          this.caseloadLoaded = true;
        })
        .catch(() => null);
    }
    await Promise.all(missing.filter((id) => !this.graduates.has(id)).map((id) => this.graduate(id).catch(() => null)));
    this.emit({ kind: "names" });
  }

  remember(graduates) {
    for (const graduate of graduates) this.graduates.set(graduate.id, graduate);
  }

  async graduate(id, { fresh = false } = {}) {
    if (!fresh && this.graduates.has(id)) return this.graduates.get(id);
    if (!this.graduateRequests.has(id)) {
      const request = this.api
        .get(`/v1/graduates/${encodeURIComponent(id)}`)
        .then((graduate) => {
          this.graduates.set(id, graduate);
          return graduate;
        })
        .finally(() => this.graduateRequests.delete(id));
      this.graduateRequests.set(id, request);
    }
    return this.graduateRequests.get(id);
  }

  /**
   * One page of the caseload in the server's order: `query` holds GET /v1/graduates's `sort`,
   * `search` (a name prefix), `needs_reassignment` and the other filters; `cursor` the page to
   * continue from. Returns {items, next_cursor}.
   */
  async loadCaseload(query = {}, { cursor = null, limit = CASELOAD_PAGE } = {}) {
    const page = await this.api.get("/v1/graduates", { ...query, limit, ...(cursor ? { cursor } : {}) });
    this.remember(page.items);
    return page;
  }

  /** Staff names: supervisors read the staff list, counselors their active colleagues (names and
   * roles only). `fresh`: again, for screens that choose among them (a colleague added or
   * deactivated since sign-in). */
  async loadStaff({ fresh = false } = {}) {
    if (this.staff.size && !fresh) return;
    const supervisor = this.api.role === "supervisor";
    try {
      const members = await this.api.all(supervisor ? "/v1/staff" : "/v1/staff/colleagues");
      // Colleagues are active by definition: the list leaves the others out.
      this.staff = new Map(members.map((member) => [member.id, { active: true, ...member }]));
    } catch {
      // names are a convenience: without them the console says "a colleague"
    }
  }

  /** Active staff other than `exceptId`, by name: who can cover or be on call. */
  activeStaff(exceptId = null) {
    return [...this.staff.values()]
      .filter((member) => member.active && member.id !== exceptId)
      .sort((a, b) => a.display_name.localeCompare(b.display_name));
  }

  staffName(id) {
    if (!id) return "";
    if (id === this.me?.user_id) return "you";
    return this.staff.get(id)?.display_name ?? "a colleague";
  }
}
