import * as React from "react";
import { Label } from "@/components/ui/label";
import { cn } from "@/lib/utils";

/**
 * A labelled form field with a hint or an error. The control inside uses
 * `id`, and `aria-describedby={fieldErrorId(id)}` when there is an error.
 */
export function FormField({
  id,
  label,
  error,
  hint,
  className,
  children,
}: {
  id: string;
  label: React.ReactNode;
  error?: string;
  hint?: React.ReactNode;
  className?: string;
  children: React.ReactNode;
}) {
  return (
    <div className={cn("space-y-1.5", className)}>
      <Label htmlFor={id}>{label}</Label>
      {/* One wrapper: controls that add hidden siblings (Radix Select's native select in forms) keep the spacing. */}
      <div>{children}</div>
      {hint && !error && <p className="text-xs text-muted-foreground">{hint}</p>}
      {error && (
        <p id={fieldErrorId(id)} className="text-xs text-destructive">
          {error}
        </p>
      )}
    </div>
  );
}

export const fieldErrorId = (id: string) => `${id}-error`;

/** aria-invalid and aria-describedby for a control whose field may have an error. */
export function invalidProps(id: string, error?: string) {
  return error ? ({ "aria-invalid": true, "aria-describedby": fieldErrorId(id) } as const) : {};
}
