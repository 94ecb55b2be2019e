import { Navigate, Outlet, useLocation } from "react-router-dom";
import { LoadingState } from "@/components/states";
import { useAuth } from "@/lib/auth";

/** Renders its routes when signed in; otherwise sends the user to /login and back. */
export function RequireAuth() {
  const { status } = useAuth();
  const location = useLocation();
  if (status === "loading") return <LoadingState label="Restoring your session" className="h-screen" />;
  if (status === "anonymous") {
    const next = location.pathname + location.search;
    return <Navigate to={next === "/" ? "/login" : `/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return <Outlet />;
}
