import type { SortField } from "@/features/devices/schema";

export interface Column {
  id: string;
  label: string;
  sort?: SortField;
  /** Shown only from this width up. */
  wide?: boolean;
}

export const columns: readonly Column[] = [
  { id: "status", label: "Status" },
  { id: "alias", label: "Device", sort: "alias" },
  { id: "serial", label: "Serial", sort: "serial", wide: true },
  { id: "model", label: "Model", wide: true },
  { id: "battery", label: "Battery", sort: "battery" },
  { id: "agent", label: "Agent", sort: "agent_version" },
  { id: "last_seen", label: "Last seen", sort: "last_seen" },
  { id: "enrolled", label: "Enrolled", sort: "enrolled_at", wide: true },
  { id: "service", label: "Service", wide: true },
];

/** One grid template for the header and every row (narrow: the wide columns hidden). */
export const gridClass =
  "grid grid-cols-[2.5rem_6rem_minmax(10rem,2fr)_6.5rem_7rem_8rem] xl:grid-cols-[2.5rem_6rem_minmax(10rem,2fr)_minmax(8rem,1fr)_minmax(7rem,1fr)_6.5rem_7rem_8rem_8rem_minmax(7rem,1fr)]";

export const ROW_HEIGHT = 44;
