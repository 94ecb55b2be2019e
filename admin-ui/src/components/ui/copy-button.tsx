import * as React from "react";
import { Check, Copy } from "lucide-react";
import { toast } from "sonner";
import { Button, type ButtonProps } from "@/components/ui/button";

/**
 * Copies text to the clipboard: the async Clipboard API where the page may
 * use it (https or localhost), else a hidden textarea and execCommand, which
 * also works on a plain-http LAN address.
 */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // denied or unavailable: try the fallback
  }
  const ta = document.createElement("textarea");
  ta.value = text;
  ta.setAttribute("readonly", "");
  ta.style.position = "fixed";
  ta.style.top = "0";
  ta.style.left = "0";
  ta.style.opacity = "0";
  const active = document.activeElement as HTMLElement | null;
  document.body.appendChild(ta);
  ta.focus();
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  ta.remove();
  active?.focus?.();
  return ok;
}

interface CopyButtonProps extends Omit<ButtonProps, "onClick" | "children"> {
  /** The text to copy. */
  value: string;
  /** What is copied, for the accessible name: "Copy <label>". */
  label: string;
  /** Visible text; defaults to "Copy". */
  children?: React.ReactNode;
}

/** A button that copies `value`, confirms for two seconds, and says so when it cannot. */
export function CopyButton({ value, label, children, variant = "outline", size = "sm", ...props }: CopyButtonProps) {
  const [copied, setCopied] = React.useState(false);
  React.useEffect(() => {
    if (!copied) return;
    const t = setTimeout(() => setCopied(false), 2000);
    return () => clearTimeout(t);
  }, [copied]);
  return (
    <Button
      type="button"
      variant={variant}
      size={size}
      aria-label={`Copy ${label}`}
      onClick={async () => {
        if (await copyText(value)) setCopied(true);
        else toast.error("Could not copy", { description: "Select the text and copy it by hand." });
      }}
      {...props}
    >
      {copied ? <Check aria-hidden /> : <Copy aria-hidden />}
      <span aria-live="polite">{copied ? "Copied" : (children ?? "Copy")}</span>
    </Button>
  );
}
