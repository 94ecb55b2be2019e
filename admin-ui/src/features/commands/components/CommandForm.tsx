import { useId, useState } from "react";
import { Loader2 } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { Textarea } from "@/components/ui/textarea";
import { useAuth } from "@/lib/auth";
import type { CommandInput } from "@/features/commands/api";
import { buildParams, commandCatalogue, commandTypes, type CommandType, type ParamSpec } from "@/features/commands/schema";

interface CommandFormProps {
  onSubmit: (c: CommandInput) => void;
  pending?: boolean;
  submitLabel?: string;
}

/** Pick a command from the catalogue and fill in its parameters. */
export function CommandForm({ onSubmit, pending, submitLabel = "Send command" }: CommandFormProps) {
  const { role } = useAuth();
  const id = useId();
  const [type, setType] = useState<CommandType>("ping");
  const [raw, setRaw] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const spec = commandCatalogue[type];
  const available = commandTypes.filter((t) => !commandCatalogue[t].adminOnly || role === "admin");

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const { params, errors: errs } = buildParams(type, raw);
    setErrors(errs);
    if (Object.keys(errs).length === 0) onSubmit({ type, params });
  };

  const field = (p: ParamSpec) => {
    const fid = `${id}-${p.name}`;
    const err = errors[p.name];
    const common = {
      id: fid,
      "aria-invalid": !!err,
      "aria-describedby": err ? `${fid}-err` : undefined,
    };
    let control: React.ReactNode;
    if (p.kind === "enum") {
      control = (
        <Select value={raw[p.name] ?? ""} onValueChange={(v) => setRaw((r) => ({ ...r, [p.name]: v }))}>
          <SelectTrigger {...common} aria-label={p.label}>
            <SelectValue placeholder="Unchanged" />
          </SelectTrigger>
          <SelectContent>
            {p.options.map((o) => (
              <SelectItem key={o} value={o}>
                {o}
              </SelectItem>
            ))}
          </SelectContent>
        </Select>
      );
    } else if (p.kind === "text") {
      control = (
        <Textarea {...common} value={raw[p.name] ?? ""} onChange={(e) => setRaw((r) => ({ ...r, [p.name]: e.target.value }))} className="font-mono" />
      );
    } else {
      control = (
        <Input
          {...common}
          inputMode={p.kind === "int" ? "numeric" : undefined}
          placeholder={p.kind === "package" ? "com.example.app" : p.kind === "int" ? `${p.min}–${p.max}` : undefined}
          value={raw[p.name] ?? ""}
          onChange={(e) => setRaw((r) => ({ ...r, [p.name]: e.target.value }))}
        />
      );
    }
    return (
      <div key={p.name} className="grid gap-1.5">
        <Label htmlFor={fid}>
          {p.label}
          {!p.required && <span className="font-normal text-muted-foreground"> (optional)</span>}
        </Label>
        {control}
        {err && (
          <p id={`${fid}-err`} className="text-sm text-destructive">
            {err}
          </p>
        )}
      </div>
    );
  };

  return (
    <form onSubmit={submit} className="grid gap-3" aria-label="Command">
      <div className="grid gap-1.5">
        <Label htmlFor={`${id}-type`}>Command</Label>
        <Select
          value={type}
          onValueChange={(v) => {
            setType(v as CommandType);
            setRaw({});
            setErrors({});
          }}
        >
          <SelectTrigger id={`${id}-type`} aria-label="Command type">
            <SelectValue />
          </SelectTrigger>
          <SelectContent>
            {available.map((t) => (
              <SelectItem key={t} value={t}>
                {commandCatalogue[t].label}
              </SelectItem>
            ))}
          </SelectContent>
        </Select>
      </div>
      {spec.params.map(field)}
      <Button type="submit" disabled={pending} className="justify-self-start">
        {pending && <Loader2 className="animate-spin" aria-hidden />}
        {submitLabel}
      </Button>
    </form>
  );
}
