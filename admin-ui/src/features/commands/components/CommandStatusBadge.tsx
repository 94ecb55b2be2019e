import { Badge } from "@/components/ui/badge";
import type { CommandStatus } from "@/features/commands/schema";

const variant: Record<CommandStatus, "secondary" | "outline" | "success" | "destructive" | "warning"> = {
  queued: "outline",
  sent: "secondary",
  delivered: "secondary",
  succeeded: "success",
  failed: "destructive",
  expired: "warning",
};

export function CommandStatusBadge({ status }: { status: CommandStatus }) {
  return (
    <Badge variant={variant[status]} data-testid="command-status" data-status={status}>
      {status}
    </Badge>
  );
}
