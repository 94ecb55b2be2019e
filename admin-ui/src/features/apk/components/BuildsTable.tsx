import { Download, Loader2, Trash2, Upload } from "lucide-react";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { Tooltip, TooltipContent, TooltipTrigger } from "@/components/ui/tooltip";
import { formatDateTime, timeAgo } from "@/lib/format";
import { formatBytes, type Build } from "../schema";

interface BuildsTableProps {
  builds: Build[];
  canUpload: boolean;
  canDelete: boolean;
  downloading: string | null;
  onDownload: (b: Build) => void;
  onDelete: (b: Build) => void;
  onResume: (b: Build) => void;
}

export function BuildsTable({ builds, canUpload, canDelete, downloading, onDownload, onDelete, onResume }: BuildsTableProps) {
  return (
    <div className="rounded-xl border">
      <Table aria-label="APK builds">
        <TableHeader>
          <TableRow>
            <TableHead scope="col">Package</TableHead>
            <TableHead scope="col">Version</TableHead>
            <TableHead scope="col">Channel</TableHead>
            <TableHead scope="col">File</TableHead>
            <TableHead scope="col" className="hidden lg:table-cell">
              SHA-256
            </TableHead>
            <TableHead scope="col" className="hidden md:table-cell">
              Registered
            </TableHead>
            <TableHead scope="col" className="text-right">
              <span className="sr-only">Actions</span>
            </TableHead>
          </TableRow>
        </TableHeader>
        <TableBody>
          {builds.map((b) => {
            const name = `${b.package} ${b.version_name || b.version_code}`;
            return (
              <TableRow key={b.id}>
                <TableCell className="max-w-56 truncate font-mono text-xs" title={b.package}>
                  {b.package}
                </TableCell>
                <TableCell>
                  <div>{b.version_name || "—"}</div>
                  <div className="text-xs text-muted-foreground">code {b.version_code}</div>
                </TableCell>
                <TableCell>
                  <Badge variant="outline">{b.channel}</Badge>
                </TableCell>
                <TableCell>
                  {b.uploaded ? (
                    <span title={`Uploaded ${formatDateTime(b.uploaded_at)}`}>{formatBytes(b.size_bytes)}</span>
                  ) : (
                    <Badge variant="warning">not uploaded</Badge>
                  )}
                </TableCell>
                <TableCell className="hidden lg:table-cell">
                  <Tooltip>
                    <TooltipTrigger asChild>
                      <span tabIndex={0} className="font-mono text-xs">
                        {b.sha256.slice(0, 12)}…
                      </span>
                    </TooltipTrigger>
                    <TooltipContent className="font-mono text-xs">{b.sha256}</TooltipContent>
                  </Tooltip>
                </TableCell>
                <TableCell className="hidden md:table-cell" title={formatDateTime(b.registered_at)}>
                  {timeAgo(b.registered_at)}
                  <div className="text-xs text-muted-foreground">by {b.registered_by}</div>
                </TableCell>
                <TableCell>
                  <div className="flex justify-end gap-1">
                    {b.uploaded ? (
                      <Button
                        variant="ghost"
                        size="icon"
                        aria-label={`Download ${name}`}
                        onClick={() => onDownload(b)}
                        disabled={downloading === b.id}
                      >
                        {downloading === b.id ? <Loader2 className="animate-spin" aria-hidden /> : <Download aria-hidden />}
                      </Button>
                    ) : (
                      canUpload && (
                        <Button variant="ghost" size="icon" aria-label={`Upload the file for ${name}`} onClick={() => onResume(b)}>
                          <Upload aria-hidden />
                        </Button>
                      )
                    )}
                    {canDelete && (
                      <Button variant="ghost" size="icon" aria-label={`Delete ${name}`} onClick={() => onDelete(b)}>
                        <Trash2 aria-hidden />
                      </Button>
                    )}
                  </div>
                </TableCell>
              </TableRow>
            );
          })}
        </TableBody>
      </Table>
    </div>
  );
}
