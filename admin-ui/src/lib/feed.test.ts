import { vi } from "vitest";
import { LiveFeed } from "@/lib/feed";

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  constructor(public url: string) {
    FakeSocket.all.push(this);
  }
  send(s: string) {
    this.sent.push(s);
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(msg: unknown) {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
}

function makeFeed(over: Partial<ConstructorParameters<typeof LiveFeed>[0]> = {}) {
  FakeSocket.all = [];
  let token = "t1";
  const onResync = vi.fn();
  const feed = new LiveFeed({
    getToken: () => token,
    refresh: async () => {
      token = "t2";
      return true;
    },
    onResync,
    url: "ws://test/admin/ws",
    WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    minDelay: 10,
    maxDelay: 40,
    ...over,
  });
  return { feed, onResync, setToken: (t: string) => (token = t) };
}

describe("LiveFeed", () => {
  afterEach(() => vi.useRealTimers());

  it("authenticates with its first message and dispatches events by type", () => {
    const { feed } = makeFeed();
    const seen: string[] = [];
    feed.on(["device.status"], (e) => seen.push(e.type));
    feed.start();
    const ws = FakeSocket.all[0]!;
    ws.open();
    expect(JSON.parse(ws.sent[0]!)).toEqual({ type: "auth", token: "t1" });
    ws.receive({ type: "auth.ok", expires_at: null });
    expect(feed.status).toBe("live");
    ws.receive({ type: "device.status", at: "now", data: [] });
    ws.receive({ type: "fleet.summary", at: "now", data: {} });
    expect(seen).toEqual(["device.status"]);
    feed.stop();
  });

  it("re-sends auth when the token changes", () => {
    const { feed, setToken } = makeFeed();
    feed.start();
    const ws = FakeSocket.all[0]!;
    ws.open();
    setToken("t9");
    feed.reauth();
    expect(JSON.parse(ws.sent[1]!)).toEqual({ type: "auth", token: "t9" });
    feed.stop();
  });

  it("reconnects with backoff after a drop and asks for a resync", () => {
    vi.useFakeTimers();
    const { feed, onResync } = makeFeed();
    feed.start();
    FakeSocket.all[0]!.open();
    FakeSocket.all[0]!.receive({ type: "auth.ok", expires_at: null });
    FakeSocket.all[0]!.onclose?.({ code: 1006 });
    expect(feed.status).toBe("reconnecting");
    vi.advanceTimersByTime(50);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1]!.open();
    FakeSocket.all[1]!.receive({ type: "auth.ok", expires_at: null });
    expect(onResync).toHaveBeenCalledTimes(1);
    feed.stop();
  });

  it("refreshes the session on 4401 and reconnects with the new token", async () => {
    vi.useFakeTimers();
    const { feed } = makeFeed();
    feed.start();
    FakeSocket.all[0]!.open();
    FakeSocket.all[0]!.onclose?.({ code: 4401 });
    await vi.advanceTimersByTimeAsync(50);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1]!.open();
    expect(JSON.parse(FakeSocket.all[1]!.sent[0]!)).toEqual({ type: "auth", token: "t2" });
    feed.stop();
  });
});
