import { useEffect, useState } from "react";
import { Search, X } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { Switch } from "@/components/ui/switch";
import { useFleetSummary } from "@/features/overview/api";
import type { DeviceListParams } from "@/features/devices/schema";

const ALL = "all";
const batteryOptions = [
  { value: "15", label: "Below 15%" },
  { value: "30", label: "Below 30%" },
  { value: "60", label: "Below 60%" },
  { value: "101", label: "Any known level" },
];

interface ToolbarProps {
  params: DeviceListParams;
  onChange: (patch: Partial<DeviceListParams>) => void;
}

/** Search and filters; each maps to a GET /admin/devices query parameter. */
export function DeviceToolbar({ params, onChange }: ToolbarProps) {
  const [q, setQ] = useState(params.q ?? "");
  const summary = useFleetSummary();
  const versions = summary.data?.agent_versions.filter((v) => v.version !== "") ?? [];

  // Debounce typing into the search parameter.
  useEffect(() => {
    if ((params.q ?? "") === q.trim()) return;
    const t = setTimeout(() => onChange({ q: q.trim() || undefined }), 300);
    return () => clearTimeout(t);
  }, [q, params.q, onChange]);

  const filtered = !!(params.q || params.status || params.agent_version || params.battery_below || params.service_down);

  return (
    <div className="flex flex-wrap items-end gap-3" role="search" aria-label="Filter devices">
      <div className="grid min-w-48 flex-1 gap-1.5">
        <Label htmlFor="device-search">Search</Label>
        <div className="relative">
          <Search className="absolute left-2.5 top-2.5 size-4 text-muted-foreground" aria-hidden />
          <Input
            id="device-search"
            type="search"
            placeholder="Alias or serial"
            maxLength={64}
            className="pl-8"
            value={q}
            onChange={(e) => setQ(e.target.value)}
          />
        </div>
      </div>
      <div className="grid w-36 gap-1.5">
        <Label htmlFor="filter-status">Status</Label>
        <Select value={params.status ?? ALL} onValueChange={(v) => onChange({ status: v === ALL ? undefined : (v as DeviceListParams["status"]) })}>
          <SelectTrigger id="filter-status">
            <SelectValue />
          </SelectTrigger>
          <SelectContent>
            <SelectItem value={ALL}>Any status</SelectItem>
            <SelectItem value="online">Online</SelectItem>
            <SelectItem value="offline">Offline</SelectItem>
            <SelectItem value="never">Never seen</SelectItem>
          </SelectContent>
        </Select>
      </div>
      <div className="grid w-40 gap-1.5">
        <Label htmlFor="filter-version">Agent version</Label>
        <Select value={params.agent_version ?? ALL} onValueChange={(v) => onChange({ agent_version: v === ALL ? undefined : v })}>
          <SelectTrigger id="filter-version">
            <SelectValue />
          </SelectTrigger>
          <SelectContent>
            <SelectItem value={ALL}>Any version</SelectItem>
            {params.agent_version && !versions.some((v) => v.version === params.agent_version) && (
              <SelectItem value={params.agent_version}>{params.agent_version}</SelectItem>
            )}
            {versions.map((v) => (
              <SelectItem key={v.version} value={v.version}>
                {v.version} ({v.count})
              </SelectItem>
            ))}
          </SelectContent>
        </Select>
      </div>
      <div className="grid w-40 gap-1.5">
        <Label htmlFor="filter-battery">Battery</Label>
        <Select
          value={params.battery_below ? String(params.battery_below) : ALL}
          onValueChange={(v) => onChange({ battery_below: v === ALL ? undefined : Number(v) })}
        >
          <SelectTrigger id="filter-battery">
            <SelectValue />
          </SelectTrigger>
          <SelectContent>
            <SelectItem value={ALL}>Any battery</SelectItem>
            {batteryOptions.map((o) => (
              <SelectItem key={o.value} value={o.value}>
                {o.label}
              </SelectItem>
            ))}
          </SelectContent>
        </Select>
      </div>
      <div className="flex h-9 items-center gap-2">
        <Switch
          id="filter-service-down"
          checked={!!params.service_down}
          onCheckedChange={(c) => onChange({ service_down: c || undefined })}
        />
        <Label htmlFor="filter-service-down">Service down</Label>
      </div>
      {filtered && (
        <Button
          variant="ghost"
          size="sm"
          className="h-9"
          onClick={() => {
            setQ("");
            onChange({ q: undefined, status: undefined, agent_version: undefined, battery_below: undefined, service_down: undefined });
          }}
        >
          <X /> Clear filters
        </Button>
      )}
    </div>
  );
}
