import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import type { ExitCode } from "../schema";

/** What each exit code of the script means and how to fix it. */
export function ExitCodeTable({ codes }: { codes: ExitCode[] }) {
  if (codes.length === 0) {
    return <p className="text-sm text-muted-foreground">The server listed no exit codes.</p>;
  }
  return (
    <Table aria-label="Script exit codes">
      <TableHeader>
        <TableRow>
          <TableHead scope="col" className="w-16">
            Code
          </TableHead>
          <TableHead scope="col" className="w-16">
            Step
          </TableHead>
          <TableHead scope="col">Meaning</TableHead>
          <TableHead scope="col">Fix</TableHead>
        </TableRow>
      </TableHeader>
      <TableBody>
        {codes.map((c) => (
          <TableRow key={c.code}>
            <TableCell className="font-mono">{c.code}</TableCell>
            <TableCell>{c.step ?? "—"}</TableCell>
            <TableCell>{c.meaning}</TableCell>
            <TableCell className="text-muted-foreground">{c.fix}</TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}
