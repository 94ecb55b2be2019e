import { useState } from "react";
import { QueryClientProvider, type QueryClient } from "@tanstack/react-query";
import { Toaster } from "@/components/ui/sonner";
import { TooltipProvider } from "@/components/ui/tooltip";
import { AuthProvider } from "@/lib/auth";
import type { LiveFeed } from "@/lib/feed";
import { createQueryClient } from "@/lib/query";
import { ThemeProvider } from "@/lib/theme";
import { LiveFeedProvider } from "@/lib/ws";

/** Every app-wide provider, in order. Tests pass their own client and feed. */
export function Providers({
  children,
  queryClient,
  feed,
}: {
  children: React.ReactNode;
  queryClient?: QueryClient;
  feed?: LiveFeed;
}) {
  const [client] = useState(() => queryClient ?? createQueryClient());
  return (
    <ThemeProvider>
      <QueryClientProvider client={client}>
        <AuthProvider>
          <LiveFeedProvider feed={feed}>
            <TooltipProvider delayDuration={300}>
              {children}
              <Toaster position="bottom-right" />
            </TooltipProvider>
          </LiveFeedProvider>
        </AuthProvider>
      </QueryClientProvider>
    </ThemeProvider>
  );
}
