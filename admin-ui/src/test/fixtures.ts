import type { Device } from "@/features/devices/schema";

let n = 0;
/** A device row as GET /admin/devices returns it. */
export function makeDevice(over: Partial<Device> = {}): Device {
  n += 1;
  const id = over.id ?? `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
  return {
    id,
    alias: `device-${n}`,
    serial: `SN${String(n).padStart(6, "0")}`,
    model: "Pixel 7",
    status: "online",
    last_seen: new Date(Date.now() - 30_000).toISOString(),
    battery_pct: 80,
    charging: false,
    agent_version: "1.4.0",
    enrolled_at: "2024-01-01T00:00:00Z",
    service: null,
    ...over,
  };
}
