import { z } from "zod";

export const commandTypes = [
  "ping",
  "reboot",
  "lock",
  "check_update",
  "launch_app",
  "stop_app",
  "clear_app_data",
  "disable_package",
  "enable_package",
  "uninstall_app",
  "install_apk",
  "set_config",
  "shell",
] as const;
export const commandTypeSchema = z.enum(commandTypes);
export type CommandType = z.infer<typeof commandTypeSchema>;

export const commandStatusSchema = z.enum(["queued", "sent", "delivered", "succeeded", "failed", "expired"]);
export type CommandStatus = z.infer<typeof commandStatusSchema>;

export const terminalStatuses: readonly CommandStatus[] = ["succeeded", "failed", "expired"];

export const commandSchema = z.object({
  id: z.string(),
  device_id: z.string(),
  type: z.string(),
  params: z.record(z.string(), z.unknown()).nullable(),
  status: commandStatusSchema,
  issued_at: z.string(),
  expires_at: z.string(),
  created_by: z.string(),
  updated_at: z.string(),
  result: z
    .object({ message: z.string(), output: z.string(), finished_at: z.string().nullable() })
    .nullable(),
  events: z
    .array(z.object({ at: z.string(), status: commandStatusSchema, detail: z.string().optional() }))
    .optional(),
});
export type Command = z.infer<typeof commandSchema>;

export const commandPageSchema = z.object({ commands: z.array(commandSchema), next_cursor: z.string().nullable() });
export type CommandPage = z.infer<typeof commandPageSchema>;

/** An element of `command.*` feed events. */
export const commandChangeSchema = z.object({
  device_id: z.string(),
  command_id: z.string(),
  status: commandStatusSchema,
  type: z.string().optional(),
  at: z.string(),
});
export type CommandChange = z.infer<typeof commandChangeSchema>;

export const commandFeedTypes = commandStatusSchema.options.map((s) => `command.${s}`);

export const bulkCommandAnswerSchema = z.object({ queued: z.number().int(), command_ids: z.array(z.string()) });

/** A command parameter, as ingress/command_catalogue.go checks it. */
export type ParamSpec =
  | { name: string; label: string; kind: "package"; required: true }
  | { name: string; label: string; kind: "uuid"; required: true }
  | { name: string; label: string; kind: "int"; required: false; min: number; max: number }
  | { name: string; label: string; kind: "enum"; required: false; options: readonly string[] }
  | { name: string; label: string; kind: "text"; required: true; maxBytes: number };

export interface CommandSpec {
  label: string;
  params: readonly ParamSpec[];
  /** Beyond the command permission, needs the admin role (and NEXMDM_ALLOW_SHELL=1 on the server). */
  adminOnly?: boolean;
}

const pkg: ParamSpec = { name: "package", label: "Package", kind: "package", required: true };

export const commandCatalogue: Record<CommandType, CommandSpec> = {
  ping: { label: "Ping", params: [] },
  reboot: { label: "Reboot", params: [] },
  lock: { label: "Lock screen", params: [] },
  check_update: { label: "Check for agent update", params: [] },
  launch_app: { label: "Launch app", params: [pkg] },
  stop_app: { label: "Stop app", params: [pkg] },
  clear_app_data: { label: "Clear app data", params: [pkg] },
  disable_package: { label: "Disable package", params: [pkg] },
  enable_package: { label: "Enable package", params: [pkg] },
  uninstall_app: { label: "Uninstall app", params: [pkg] },
  install_apk: { label: "Install APK build", params: [{ name: "build_id", label: "Build id", kind: "uuid", required: true }] },
  set_config: {
    label: "Set agent config",
    params: [
      { name: "heartbeat_interval_s", label: "Heartbeat interval (s)", kind: "int", required: false, min: 30, max: 3600 },
      { name: "queue_max_items", label: "Queue max items", kind: "int", required: false, min: 50, max: 5000 },
      { name: "log_level", label: "Log level", kind: "enum", required: false, options: ["debug", "info", "warn", "error"] },
    ],
  },
  shell: { label: "Shell command", adminOnly: true, params: [{ name: "cmd", label: "Command line", kind: "text", required: true, maxBytes: 4096 }] },
};

const androidPackage = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$/;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks raw form values against the spec; returns params to send or per-field errors. */
export function buildParams(
  type: CommandType,
  raw: Record<string, string>,
): { params: Record<string, string | number>; errors: Record<string, string> } {
  const params: Record<string, string | number> = {};
  const errors: Record<string, string> = {};
  for (const p of commandCatalogue[type].params) {
    const v = (raw[p.name] ?? "").trim();
    if (!v) {
      if (p.required) errors[p.name] = `${p.label} is required`;
      continue;
    }
    switch (p.kind) {
      case "package":
        if (v.length > 255 || !androidPackage.test(v)) errors[p.name] = "An Android package name such as com.example.app";
        else params[p.name] = v;
        break;
      case "uuid":
        if (!uuid.test(v)) errors[p.name] = "A build id (UUID)";
        else params[p.name] = v;
        break;
      case "int": {
        const n = Number(v);
        if (!Number.isInteger(n) || n < p.min || n > p.max) errors[p.name] = `An integer from ${p.min} to ${p.max}`;
        else params[p.name] = n;
        break;
      }
      case "enum":
        if (!p.options.includes(v)) errors[p.name] = `One of ${p.options.join(", ")}`;
        else params[p.name] = v;
        break;
      case "text":
        if (new TextEncoder().encode(v).length > p.maxBytes) errors[p.name] = `At most ${p.maxBytes} bytes`;
        else params[p.name] = v;
        break;
    }
  }
  return { params, errors };
}
