import { createContext, useContext, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { refreshSession } from "@/lib/api";
import { useAuth } from "@/lib/auth";
import { LiveFeed, type FeedEvent, type FeedStatus } from "@/lib/feed";
import { sessionStore } from "@/lib/session";

const FeedContext = createContext<LiveFeed | null>(null);

/** Opens the live feed while signed in; features listen with useFeedEvent. */
export function LiveFeedProvider({ children, feed: injected }: { children: React.ReactNode; feed?: LiveFeed }) {
  const queryClient = useQueryClient();
  const { status } = useAuth();
  const [feed] = useState(
    () =>
      injected ??
      new LiveFeed({
        getToken: () => sessionStore.get()?.accessToken ?? null,
        refresh: refreshSession,
        onResync: () => void queryClient.invalidateQueries(),
      }),
  );

  useEffect(() => {
    if (injected || status !== "authenticated") return;
    feed.start();
    const unsub = sessionStore.subscribe(() => feed.reauth());
    return () => {
      unsub();
      feed.stop();
    };
  }, [feed, injected, status]);

  return <FeedContext.Provider value={feed}>{children}</FeedContext.Provider>;
}

export function useLiveFeed(): LiveFeed {
  const feed = useContext(FeedContext);
  if (!feed) throw new Error("useLiveFeed outside LiveFeedProvider");
  return feed;
}

/** Calls `handler` for each feed event of the given type(s). The handler may change freely. */
export function useFeedEvent(types: string | readonly string[], handler: (e: FeedEvent) => void) {
  const feed = useLiveFeed();
  const ref = useRef(handler);
  useEffect(() => {
    ref.current = handler;
  });
  const key = typeof types === "string" ? types : types.join(",");
  useEffect(() => feed.on(key.split(","), (e) => ref.current(e)), [feed, key]);
}

export function useFeedStatus(): FeedStatus {
  const feed = useLiveFeed();
  return useSyncExternalStore(feed.subscribeStatus, feed.getStatus);
}
