import { Badge, type BadgeProps } from "@/components/ui/badge";
import type { ReleaseStatus } from "../schema";

const VARIANTS: Record<ReleaseStatus, BadgeProps["variant"]> = {
  draft: "outline",
  active: "success",
  paused: "warning",
  superseded: "secondary",
  rolled_back: "destructive",
};

export function StatusBadge({ status }: { status: ReleaseStatus }) {
  return <Badge variant={VARIANTS[status]}>{status.replace("_", " ")}</Badge>;
}
