import { MutationCache, QueryCache, QueryClient } from "@tanstack/react-query";
import { toast } from "sonner";
import { isApiError } from "@/lib/api";

declare module "@tanstack/react-query" {
  interface Register {
    queryMeta: { silent?: boolean; errorTitle?: string };
    mutationMeta: { silent?: boolean; errorTitle?: string };
  }
}

/** The one place errors become toasts. Queries/mutations opt out with meta.silent. */
export function notifyError(error: unknown, title?: string) {
  if (isApiError(error)) {
    if (error.code === "session_expired") {
      toast.error(error.message, { id: "session_expired" });
      return;
    }
    const where = error.field ? ` (${error.field})` : "";
    toast.error(title ?? "Request failed", {
      id: `${error.status}:${error.code}:${error.message}`,
      description: `${error.message}${where}`,
    });
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  toast.error(title ?? "Something went wrong", { description: message });
}

export function createQueryClient(): QueryClient {
  return new QueryClient({
    queryCache: new QueryCache({
      onError: (error, query) => {
        if (!query.meta?.silent) notifyError(error, query.meta?.errorTitle);
      },
    }),
    mutationCache: new MutationCache({
      onError: (error, _vars, _ctx, mutation) => {
        if (!mutation.meta?.silent) notifyError(error, mutation.meta?.errorTitle);
      },
    }),
    defaultOptions: {
      queries: {
        staleTime: 30_000,
        refetchOnWindowFocus: false,
        retry: (count, error) => {
          if (isApiError(error) && error.status >= 400 && error.status < 500) return false;
          return count < 2;
        },
      },
      mutations: { retry: false },
    },
  });
}
