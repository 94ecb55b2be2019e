import { z } from "zod";

/** One live feed message (server → client), as in openapi's FeedEvent. */
export const feedEventSchema = z.object({ type: z.string(), at: z.string(), data: z.unknown() });
export type FeedEvent = z.infer<typeof feedEventSchema>;
export type FeedHandler = (event: FeedEvent) => void;
export type FeedStatus = "idle" | "connecting" | "live" | "reconnecting";

export interface FeedOptions {
  /** The current access token, or null when signed out. */
  getToken: () => string | null;
  /** Called on close 4401: refresh the session; false ends the feed. */
  refresh: () => Promise<boolean>;
  /** Called after a reconnect: events were missed, refetch what is shown. */
  onResync?: () => void;
  url?: string;
  WebSocketImpl?: typeof WebSocket;
  /** Backoff bounds in ms. */
  minDelay?: number;
  maxDelay?: number;
}

const UNAUTHORIZED = 4401;

function defaultUrl(): string {
  const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${window.location.host}/admin/ws`;
}

/**
 * The dashboard's one connection to GET /admin/ws. It authenticates with its
 * first message, re-sends auth when the token changes, and reconnects with
 * exponential backoff and jitter. Features subscribe by event type.
 */
export class LiveFeed {
  private ws: WebSocket | null = null;
  private handlers = new Map<string, Set<FeedHandler>>();
  private statusListeners = new Set<() => void>();
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private wasLive = false;
  private running = false;
  private sentToken: string | null = null;
  status: FeedStatus = "idle";

  constructor(private readonly opts: FeedOptions) {}

  start() {
    if (this.running) return;
    this.running = true;
    this.open();
  }

  stop() {
    this.running = false;
    this.wasLive = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, "bye");
    this.setStatus("idle");
  }

  /** Send a fresh token on the open socket (before the old one expires). */
  reauth() {
    const token = this.opts.getToken();
    if (!token || token === this.sentToken) return;
    if (this.ws?.readyState === 1) {
      this.ws.send(JSON.stringify({ type: "auth", token }));
      this.sentToken = token;
    }
  }

  /** Subscribe to one or more event types ("*" for all). Returns an unsubscribe. */
  on(types: string | readonly string[], handler: FeedHandler): () => void {
    const list = typeof types === "string" ? [types] : types;
    for (const t of list) {
      let set = this.handlers.get(t);
      if (!set) this.handlers.set(t, (set = new Set()));
      set.add(handler);
    }
    return () => {
      for (const t of list) this.handlers.get(t)?.delete(handler);
    };
  }

  /** Deliver an event to its subscribers (also used by tests). */
  dispatch(event: FeedEvent) {
    for (const key of [event.type, "*"]) {
      const set = this.handlers.get(key);
      if (!set) continue;
      for (const h of [...set]) {
        try {
          h(event);
        } catch (e) {
          console.error("live feed handler failed", event.type, e);
        }
      }
    }
  }

  subscribeStatus = (l: () => void) => {
    this.statusListeners.add(l);
    return () => {
      this.statusListeners.delete(l);
    };
  };

  getStatus = () => this.status;

  private setStatus(s: FeedStatus) {
    if (s === this.status) return;
    this.status = s;
    for (const l of this.statusListeners) l();
  }

  private open() {
    const token = this.opts.getToken();
    if (!this.running || !token) return;
    this.setStatus(this.wasLive || this.attempt > 0 ? "reconnecting" : "connecting");
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    const ws = new Impl(this.opts.url ?? defaultUrl());
    this.ws = ws;
    ws.onopen = () => {
      const t = this.opts.getToken();
      this.sentToken = t;
      ws.send(JSON.stringify({ type: "auth", token: t }));
    };
    ws.onmessage = (msg) => {
      if (typeof msg.data !== "string") return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(msg.data);
      } catch {
        return;
      }
      const reply = parsed as { type?: unknown };
      if (reply.type === "auth.ok") {
        const resync = this.wasLive;
        this.attempt = 0;
        this.wasLive = true;
        this.setStatus("live");
        if (resync) this.opts.onResync?.();
        return;
      }
      if (reply.type === "subscription" || reply.type === "error") return;
      const ev = feedEventSchema.safeParse(parsed);
      if (ev.success) this.dispatch(ev.data);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return; // replaced or stopped
      this.ws = null;
      if (!this.running) return;
      if (e.code === UNAUTHORIZED) {
        this.setStatus("reconnecting");
        this.opts
          .refresh()
          .catch(() => false)
          .then((ok) => {
            if (ok) this.schedule();
            else this.stop();
          });
        return;
      }
      this.schedule();
    };
  }

  private schedule() {
    if (!this.running) return;
    this.setStatus("reconnecting");
    const min = this.opts.minDelay ?? 1_000;
    const max = this.opts.maxDelay ?? 30_000;
    const base = Math.min(max, min * 2 ** this.attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    this.attempt += 1;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.open();
    }, delay);
  }
}
