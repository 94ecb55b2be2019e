import { Navigate, useNavigate, useSearchParams } from "react-router-dom";
import { Smartphone } from "lucide-react";
import { Card, CardContent, CardDescription, CardHeader } from "@/components/ui/card";
import { ThemeToggle } from "@/components/layout/ThemeToggle";
import { useAuth } from "@/lib/auth";
import { LoginForm } from "@/features/login/components/LoginForm";

/** Only same-app paths: never an absolute URL or an API route. */
function safeNext(next: string | null): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/admin") || next.startsWith("/v1")) {
    return "/";
  }
  return next;
}

export default function LoginPage() {
  const { status } = useAuth();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const next = safeNext(params.get("next"));

  if (status === "authenticated") return <Navigate to={next} replace />;

  return (
    <div className="relative flex min-h-screen items-center justify-center bg-muted/40 p-4">
      <div className="absolute right-4 top-4">
        <ThemeToggle />
      </div>
      <Card className="w-full max-w-sm">
        <CardHeader>
          <div className="mb-2 flex items-center gap-2 text-primary">
            <Smartphone className="size-6" aria-hidden />
            <span className="text-lg font-semibold text-foreground">NexMDM</span>
          </div>
          <h1 className="font-semibold leading-none tracking-tight">Log in</h1>
          <CardDescription>Sign in to manage your Android fleet.</CardDescription>
        </CardHeader>
        <CardContent>
          <LoginForm onSuccess={() => navigate(next, { replace: true })} />
        </CardContent>
      </Card>
    </div>
  );
}
