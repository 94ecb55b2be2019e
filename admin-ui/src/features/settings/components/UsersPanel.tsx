import { useId, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { KeyRound, Loader2, Trash2, UserPlus } from "lucide-react";
import { toast } from "sonner";
import { EmptyState, ErrorState, LoadingState } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { FormField as Field, invalidProps } from "@/components/ui/form-field";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { isApiError } from "@/lib/api";
import { useAuth } from "@/lib/auth";
import { formatDateTime, timeAgo } from "@/lib/format";
import { createUser, deleteUser, listUsers, setUserRole, settingsKeys } from "../api";
import { createUserSchema, ROLE_HELP, ROLES, type Role, type User } from "../schema";
import { SetPasswordDialog } from "./SetPasswordDialog";

/** Admin users and their roles. */
export function UsersPanel() {
  const { user: me } = useAuth();
  const qc = useQueryClient();
  const users = useQuery({ queryKey: settingsKeys.users, queryFn: listUsers });
  const [adding, setAdding] = useState(false);
  const [deleting, setDeleting] = useState<User | null>(null);
  const [passwordOf, setPasswordOf] = useState<User | null>(null);

  const role = useMutation({
    mutationFn: ({ id, role }: { id: string; role: Role }) => setUserRole(id, role),
    meta: { errorTitle: "Could not change the role" },
    onSuccess: (_r, v) => {
      toast.success("Role changed", { description: "It applies when their session next refreshes (within 15 minutes)." });
      qc.setQueryData<User[]>(settingsKeys.users, (old) => old?.map((u) => (u.id === v.id ? { ...u, role: v.role } : u)));
    },
  });
  const remove = useMutation({
    mutationFn: (u: User) => deleteUser(u.id),
    meta: { errorTitle: "Could not delete the user" },
    onSuccess: (_r, u) => {
      toast.success(`Deleted ${u.username}`);
      setDeleting(null);
      void qc.invalidateQueries({ queryKey: settingsKeys.users });
    },
  });

  return (
    <section aria-labelledby="users-title" className="space-y-3">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id="users-title" className="text-lg font-semibold">
          Users
        </h2>
        <Button onClick={() => setAdding(true)}>
          <UserPlus aria-hidden />
          Add user
        </Button>
      </div>
      <p className="text-sm text-muted-foreground">
        Roles: admin ({ROLE_HELP.admin}); operator ({ROLE_HELP.operator}); viewer ({ROLE_HELP.viewer}).
      </p>
      {users.isPending ? (
        <LoadingState label="Loading users" />
      ) : users.isError ? (
        <ErrorState error={users.error} onRetry={() => void users.refetch()} />
      ) : users.data.length === 0 ? (
        <EmptyState title="No users" description="Add the first user; until then only the admin key works." />
      ) : (
        <div className="rounded-xl border">
          <Table aria-label="Users">
            <TableHeader>
              <TableRow>
                <TableHead scope="col">Username</TableHead>
                <TableHead scope="col" className="w-44">
                  Role
                </TableHead>
                <TableHead scope="col" className="hidden md:table-cell">
                  Created
                </TableHead>
                <TableHead scope="col" className="hidden md:table-cell">
                  Created by
                </TableHead>
                <TableHead scope="col" className="w-24 text-right">
                  <span className="sr-only">Actions</span>
                </TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {users.data.map((u) => {
                const self = u.id === me?.id || u.username === me?.username;
                return (
                  <TableRow key={u.id}>
                    <TableCell className="font-medium">
                      {u.username} {self && <Badge variant="secondary">you</Badge>}
                    </TableCell>
                    <TableCell>
                      {self ? (
                        <span title="You cannot change your own role">{u.role}</span>
                      ) : (
                        <Select
                          value={u.role}
                          onValueChange={(r) => role.mutate({ id: u.id, role: r as Role })}
                          disabled={role.isPending}
                        >
                          <SelectTrigger aria-label={`Role of ${u.username}`} className="h-8">
                            <SelectValue />
                          </SelectTrigger>
                          <SelectContent>
                            {ROLES.map((r) => (
                              <SelectItem key={r} value={r}>
                                {r}
                              </SelectItem>
                            ))}
                          </SelectContent>
                        </Select>
                      )}
                    </TableCell>
                    <TableCell className="hidden md:table-cell" title={formatDateTime(u.created_at)}>
                      {timeAgo(u.created_at)}
                    </TableCell>
                    <TableCell className="hidden font-mono text-xs md:table-cell">{u.created_by}</TableCell>
                    <TableCell className="text-right">
                      {!self && (
                        <Button
                          variant="ghost"
                          size="icon"
                          aria-label={`Set the password of ${u.username}`}
                          onClick={() => setPasswordOf(u)}
                        >
                          <KeyRound aria-hidden />
                        </Button>
                      )}
                      {!self && (
                        <Button
                          variant="ghost"
                          size="icon"
                          aria-label={`Delete user ${u.username}`}
                          onClick={() => setDeleting(u)}
                        >
                          <Trash2 aria-hidden />
                        </Button>
                      )}
                    </TableCell>
                  </TableRow>
                );
              })}
            </TableBody>
          </Table>
        </div>
      )}
      <AddUserDialog open={adding} onOpenChange={setAdding} />
      <SetPasswordDialog user={passwordOf} onClose={() => setPasswordOf(null)} />
      <ConfirmDialog
        open={deleting !== null}
        onOpenChange={(o) => !o && setDeleting(null)}
        title={`Delete ${deleting?.username ?? "user"}?`}
        description="They can no longer log in. Their access token keeps working until it expires (at most 15 minutes)."
        confirmLabel="Delete user"
        destructive
        pending={remove.isPending}
        onConfirm={() => deleting && remove.mutate(deleting)}
      />
    </section>
  );
}

function AddUserDialog({ open, onOpenChange }: { open: boolean; onOpenChange: (o: boolean) => void }) {
  const qc = useQueryClient();
  const [form, setForm] = useState({ username: "", password: "", role: "viewer" as Role });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const ids = { username: useId(), password: useId(), role: useId() };
  const create = useMutation({
    mutationFn: createUser,
    meta: { errorTitle: "Could not add the user" },
    onSuccess: (u) => {
      toast.success(`Added ${u.username}`);
      void qc.invalidateQueries({ queryKey: settingsKeys.users });
      close(false);
    },
    onError: (e) => {
      if (isApiError(e) && e.field) setErrors({ [e.field]: e.message });
    },
  });
  const close = (o: boolean) => {
    if (!o) {
      setForm({ username: "", password: "", role: "viewer" });
      setErrors({});
    }
    onOpenChange(o);
  };
  const submit = (ev: React.FormEvent) => {
    ev.preventDefault();
    const parsed = createUserSchema.safeParse(form);
    if (!parsed.success) {
      setErrors(Object.fromEntries(parsed.error.issues.map((i) => [String(i.path[0]), i.message])));
      return;
    }
    setErrors({});
    create.mutate(parsed.data);
  };
  return (
    <Dialog open={open} onOpenChange={close}>
      <DialogContent>
        <DialogHeader>
          <DialogTitle>Add user</DialogTitle>
          <DialogDescription>They log in with this username and password.</DialogDescription>
        </DialogHeader>
        <form className="space-y-4" onSubmit={submit} noValidate>
          <Field id={ids.username} label="Username" error={errors.username}>
            <Input
              id={ids.username}
              value={form.username}
              autoComplete="off"
              onChange={(e) => setForm({ ...form, username: e.target.value })}
              {...invalidProps(ids.username, errors.username)}
            />
          </Field>
          <Field id={ids.password} label="Password" error={errors.password} hint="12 to 72 characters.">
            <Input
              id={ids.password}
              type="password"
              autoComplete="new-password"
              value={form.password}
              onChange={(e) => setForm({ ...form, password: e.target.value })}
              {...invalidProps(ids.password, errors.password)}
            />
          </Field>
          <Field id={ids.role} label="Role" error={errors.role} hint={ROLE_HELP[form.role]}>
            <Select value={form.role} onValueChange={(r) => setForm({ ...form, role: r as Role })}>
              <SelectTrigger id={ids.role}>
                <SelectValue />
              </SelectTrigger>
              <SelectContent>
                {ROLES.map((r) => (
                  <SelectItem key={r} value={r}>
                    {r}
                  </SelectItem>
                ))}
              </SelectContent>
            </Select>
          </Field>
          <DialogFooter>
            <Button type="button" variant="outline" onClick={() => close(false)}>
              Cancel
            </Button>
            <Button type="submit" disabled={create.isPending}>
              {create.isPending && <Loader2 className="animate-spin" aria-hidden />}
              Add user
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
