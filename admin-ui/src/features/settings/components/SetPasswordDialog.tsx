import { useId, useState } from "react";
import { useMutation } from "@tanstack/react-query";
import { Loader2 } from "lucide-react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { FormField as Field, invalidProps } from "@/components/ui/form-field";
import { Input } from "@/components/ui/input";
import { isApiError } from "@/lib/api";
import { setUserPassword } from "../api";
import type { User } from "../schema";

/** An admin sets another user's password; the server ends that user's sessions. */
export function SetPasswordDialog({ user, onClose }: { user: User | null; onClose: () => void }) {
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string>();
  const id = useId();
  const close = () => {
    setPassword("");
    setError(undefined);
    onClose();
  };
  const save = useMutation({
    mutationFn: (v: { id: string; password: string }) => setUserPassword(v.id, v.password),
    meta: { errorTitle: "Could not set the password" },
    onSuccess: () => {
      toast.success(`Password of ${user?.username} set`, { description: "Their sessions end within 15 minutes." });
      close();
    },
    onError: (e) => {
      if (isApiError(e) && e.field === "password") setError(e.message);
    },
  });
  const submit = (ev: React.FormEvent) => {
    ev.preventDefault();
    if (password.length < 12 || password.length > 72) {
      setError("12 to 72 characters.");
      return;
    }
    if (user) save.mutate({ id: user.id, password });
  };
  return (
    <Dialog open={user !== null} onOpenChange={(o) => !o && close()}>
      <DialogContent>
        <DialogHeader>
          <DialogTitle>Set the password of {user?.username}</DialogTitle>
          <DialogDescription>
            Their sessions end: they log in again with the new password. Tell it to them over a channel you trust.
          </DialogDescription>
        </DialogHeader>
        <form className="space-y-4" onSubmit={submit} noValidate>
          <Field id={id} label="New password" error={error} hint="12 to 72 characters.">
            <Input
              id={id}
              type="password"
              autoComplete="new-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              {...invalidProps(id, error)}
            />
          </Field>
          <DialogFooter>
            <Button type="button" variant="outline" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" disabled={save.isPending}>
              {save.isPending && <Loader2 className="animate-spin" aria-hidden />}
              Set password
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
