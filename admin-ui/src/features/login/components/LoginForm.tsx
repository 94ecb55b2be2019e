import { useState } from "react";
import { useMutation } from "@tanstack/react-query";
import { Loader2 } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { isApiError } from "@/lib/api";
import { useAuth } from "@/lib/auth";
import { loginFormSchema, type LoginForm as Form } from "@/features/login/schema";

function loginErrorText(e: unknown): string {
  if (!isApiError(e)) return "Could not log in.";
  if (e.code === "invalid_credentials") return "Wrong username or password.";
  if (e.status === 429) return `Too many attempts. Try again${e.retryAfter ? ` in ${e.retryAfter} s` : " in a minute"}.`;
  return e.message;
}

export function LoginForm({ onSuccess }: { onSuccess: () => void }) {
  const { login } = useAuth();
  const [values, setValues] = useState<Form>({ username: "", password: "" });
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<keyof Form, string>>>({});
  const mutation = useMutation({
    mutationFn: (v: Form) => login(v.username, v.password),
    meta: { silent: true }, // shown inline below
    onSuccess,
  });

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const parsed = loginFormSchema.safeParse(values);
    if (!parsed.success) {
      const errs: Partial<Record<keyof Form, string>> = {};
      for (const issue of parsed.error.issues) errs[issue.path[0] as keyof Form] ??= issue.message;
      setFieldErrors(errs);
      return;
    }
    setFieldErrors({});
    mutation.mutate(parsed.data);
  };

  const set = (k: keyof Form) => (e: React.ChangeEvent<HTMLInputElement>) =>
    setValues((v) => ({ ...v, [k]: e.target.value }));

  return (
    <form onSubmit={submit} noValidate className="grid gap-4" aria-label="Log in">
      <div className="grid gap-2">
        <Label htmlFor="username">Username</Label>
        <Input
          id="username"
          name="username"
          autoComplete="username"
          autoFocus
          value={values.username}
          onChange={set("username")}
          aria-invalid={!!fieldErrors.username}
          aria-describedby={fieldErrors.username ? "username-error" : undefined}
        />
        {fieldErrors.username && (
          <p id="username-error" className="text-sm text-destructive">
            {fieldErrors.username}
          </p>
        )}
      </div>
      <div className="grid gap-2">
        <Label htmlFor="password">Password</Label>
        <Input
          id="password"
          name="password"
          type="password"
          autoComplete="current-password"
          value={values.password}
          onChange={set("password")}
          aria-invalid={!!fieldErrors.password}
          aria-describedby={fieldErrors.password ? "password-error" : undefined}
        />
        {fieldErrors.password && (
          <p id="password-error" className="text-sm text-destructive">
            {fieldErrors.password}
          </p>
        )}
      </div>
      {mutation.isError && (
        <p role="alert" className="rounded-md border border-destructive/40 bg-destructive/10 p-2 text-sm text-destructive">
          {loginErrorText(mutation.error)}
        </p>
      )}
      <Button type="submit" disabled={mutation.isPending}>
        {mutation.isPending && <Loader2 className="animate-spin" aria-hidden />}
        Log in
      </Button>
    </form>
  );
}
