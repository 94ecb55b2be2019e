import { Download } from "lucide-react";
import { Button } from "@/components/ui/button";
import { CopyButton } from "@/components/ui/copy-button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { cn } from "@/lib/utils";

interface ScriptBlockProps {
  /** data-testid of the element holding the script text. */
  testId: string;
  title: string;
  description: React.ReactNode;
  script: string;
  /** Download button: the file name; none for the one-liners. */
  filename?: string;
  onDownload?: () => void;
  /** Long scripts scroll inside a bounded box. */
  tall?: boolean;
}

/** One form of the enrollment script, with Copy (and Download for files). */
export function ScriptBlock({ testId, title, description, script, filename, onDownload, tall }: ScriptBlockProps) {
  const headingId = `${testId}-title`;
  return (
    <Card aria-labelledby={headingId} role="region">
      <CardHeader className="flex flex-row flex-wrap items-start justify-between gap-2 space-y-0">
        <div className="min-w-0 space-y-1">
          <CardTitle id={headingId} className="text-base">
            {title}
          </CardTitle>
          <CardDescription>{description}</CardDescription>
        </div>
        <div className="flex flex-wrap gap-2">
          <CopyButton value={script} label={title} />
          {filename && onDownload && (
            <Button type="button" variant="outline" size="sm" onClick={onDownload} aria-label={`Download ${filename}`}>
              <Download aria-hidden />
              Download
            </Button>
          )}
        </div>
      </CardHeader>
      <CardContent>
        <pre
          data-testid={testId}
          tabIndex={0}
          aria-label={title}
          className={cn(
            "overflow-auto whitespace-pre rounded-md border bg-muted p-3 font-mono text-xs text-foreground focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring",
            tall ? "max-h-80" : "max-h-40 whitespace-pre-wrap break-all",
          )}
        >
          {script}
        </pre>
      </CardContent>
    </Card>
  );
}
