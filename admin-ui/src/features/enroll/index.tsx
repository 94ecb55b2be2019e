import { useId, useState } from "react";
import { Link } from "react-router-dom";
import { useMutation } from "@tanstack/react-query";
import { KeyRound, Loader2, PackageX, ShieldAlert } from "lucide-react";
import { PageHeader } from "@/components/states";
import { Button, buttonVariants } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { isApiError } from "@/lib/api";
import { useCan } from "@/lib/auth";
import { saveBlob } from "@/lib/download";
import { formatDateTime, timeAgo } from "@/lib/format";
import { notifyError } from "@/lib/query";
import { formatBytes } from "@/features/apk/schema";
import { generateEnrollScripts } from "./api";
import { ExitCodeTable } from "./components/ExitCodeTable";
import { ScriptBlock } from "./components/ScriptBlock";
import { aliasSchema, aliasSlug, keyHoursSchema, type EnrollScript } from "./schema";

/** The ADB setup page: an alias in, the enrollment scripts out. */
export default function EnrollPage() {
  const canEnroll = useCan("enroll");
  const [alias, setAlias] = useState("");
  const [aliasError, setAliasError] = useState<string | null>(null);
  const [hours, setHours] = useState("24");
  const [hoursError, setHoursError] = useState<string | null>(null);
  const [blocked, setBlocked] = useState<{ code: string; message: string } | null>(null);
  const inputId = useId();
  const errorId = useId();
  const hoursId = useId();

  const generate = useMutation({
    mutationFn: generateEnrollScripts,
    gcTime: 0, // the answer holds a secret key: keep it nowhere once the page is gone
    // Errors are shown here: the alias's next to the field, a missing agent
    // build with a link to upload one, anything else as the usual toast.
    meta: { silent: true },
    onMutate: () => {
      setAliasError(null);
      setHoursError(null);
      setBlocked(null);
    },
    onError: (e) => {
      // 409: no agent build, the chosen build has no file, or NEXMDM_PUBLIC_URL is unusable.
      if (isApiError(e) && e.status === 409) setBlocked({ code: e.code, message: e.message });
      else if (isApiError(e) && e.status === 400 && e.field === "alias") setAliasError(e.message);
      else if (isApiError(e) && e.status === 400 && e.field === "expires_in_hours") setHoursError(e.message);
      else notifyError(e, "Could not generate the scripts");
    },
  });

  const onSubmit = (ev: React.FormEvent) => {
    ev.preventDefault();
    const parsed = aliasSchema.safeParse(alias);
    const h = keyHoursSchema.safeParse(hours.trim() === "" ? Number.NaN : Number(hours));
    setAliasError(parsed.success ? null : (parsed.error.issues[0]?.message ?? "Invalid alias"));
    setHoursError(h.success ? null : (h.error.issues[0]?.message ?? "Invalid"));
    if (!parsed.success || !h.success) return;
    generate.mutate({ alias: parsed.data, hours: h.data });
  };

  return (
    <div className="mx-auto max-w-5xl space-y-6">
      <PageHeader
        title="ADB setup"
        description="Enroll an Android device over USB: generate a script for its alias, run it on a computer with adb and the device plugged in."
      />

      <Card>
        <CardHeader>
          <CardTitle className="text-base">Device</CardTitle>
          <CardDescription>
            The alias names the device in the fleet. Each generation mints a new, short-lived enroll key.
          </CardDescription>
        </CardHeader>
        <CardContent>
          <form className="flex flex-col gap-3 sm:flex-row sm:items-end" onSubmit={onSubmit} noValidate>
            <div className="flex-1 space-y-2">
              <Label htmlFor={inputId}>Alias</Label>
              <Input
                id={inputId}
                value={alias}
                onChange={(e) => {
                  setAlias(e.target.value);
                  setAliasError(null);
                }}
                placeholder="warehouse-scanner-07"
                autoComplete="off"
                spellCheck={false}
                maxLength={64}
                disabled={!canEnroll}
                aria-invalid={aliasError ? true : undefined}
                aria-describedby={aliasError ? errorId : undefined}
              />
            </div>
            <div className="space-y-2 sm:w-40">
              <Label htmlFor={hoursId}>Key valid for (hours)</Label>
              <Input
                id={hoursId}
                type="number"
                inputMode="numeric"
                min={1}
                max={168}
                value={hours}
                onChange={(e) => {
                  setHours(e.target.value);
                  setHoursError(null);
                }}
                disabled={!canEnroll}
                aria-invalid={hoursError ? true : undefined}
                aria-describedby={hoursError ? `${hoursId}-error` : undefined}
              />
            </div>
            <Button type="submit" disabled={!canEnroll || generate.isPending}>
              {generate.isPending && <Loader2 className="animate-spin" aria-hidden />}
              Generate scripts
            </Button>
          </form>
          {aliasError && (
            <p id={errorId} role="alert" className="mt-2 text-sm text-destructive">
              {aliasError}
            </p>
          )}
          {hoursError && (
            <p id={`${hoursId}-error`} role="alert" className="mt-2 text-sm text-destructive">
              {hoursError}
            </p>
          )}
          {!canEnroll && (
            <p className="mt-2 text-sm text-muted-foreground">Your role cannot enroll devices; ask an operator or an admin.</p>
          )}
          {blocked && (
            <div role="alert" className="mt-4 flex gap-3 rounded-md border border-warning/60 bg-warning/10 p-3 text-sm">
              <PackageX className="mt-0.5 size-4 shrink-0" aria-hidden />
              <div className="space-y-2">
                <p>{blocked.message}</p>
                {(blocked.code === "no_agent_build" || blocked.code === "not_uploaded") && (
                  <Link to="/apk" className={buttonVariants({ variant: "outline", size: "sm" })}>
                    Go to APK builds
                  </Link>
                )}
              </div>
            </div>
          )}
        </CardContent>
      </Card>

      {generate.data && <EnrollResult result={generate.data} />}
    </div>
  );
}

function EnrollResult({ result }: { result: EnrollScript }) {
  const slug = aliasSlug(result.alias);
  const expires = formatDateTime(result.key_expires_at);
  const download = (text: string, ext: "sh" | "cmd") => {
    // Windows cmd wants CRLF line ends; the text is saved as the server wrote it.
    const type = ext === "sh" ? "text/x-shellscript" : "text/plain";
    saveBlob(new Blob([text], { type: `${type};charset=utf-8` }), `nexmdm-enroll-${slug}.${ext}`);
  };
  const { build } = result;

  return (
    <section aria-label="Enrollment scripts" className="space-y-6">
      <Card>
        <CardHeader>
          <CardTitle className="text-base">Scripts for {result.alias}</CardTitle>
        </CardHeader>
        <CardContent>
          <dl className="grid gap-x-6 gap-y-3 text-sm sm:grid-cols-2">
            <div>
              <dt className="text-muted-foreground">Server</dt>
              <dd className="break-all font-mono">{result.server_url}</dd>
            </div>
            <div>
              <dt className="text-muted-foreground">Enroll key</dt>
              <dd>
                <span className="font-mono">{result.key_id}</span>, valid until{" "}
                <time dateTime={result.key_expires_at} data-testid="key-expires-at">
                  {expires}
                </time>{" "}
                <span className="text-muted-foreground">({timeAgo(result.key_expires_at)})</span>
              </dd>
            </div>
            <div className="sm:col-span-2">
              <dt className="text-muted-foreground">Agent build installed</dt>
              <dd>
                <span className="font-mono">{build.package}</span> {build.version_name || "—"} (version code{" "}
                {build.version_code}), {formatBytes(build.size_bytes)}
                <div className="break-all font-mono text-xs text-muted-foreground" title="SHA-256">
                  sha256 {build.sha256}
                </div>
              </dd>
            </div>
          </dl>
        </CardContent>
      </Card>

      <div role="note" className="flex gap-3 rounded-md border border-destructive/50 bg-destructive/10 p-3 text-sm">
        <ShieldAlert className="mt-0.5 size-4 shrink-0 text-destructive" aria-hidden />
        <p>
          <strong>The one-liners and scripts contain a secret enroll key</strong>, valid until {expires}. Anyone holding
          it can enroll a device into this fleet until then: share it only with whoever plugs in the device, and
          generate a new one rather than reusing it. To void these scripts early, revoke the key in Settings, API keys.
        </p>
      </div>

      <div className="grid gap-4 lg:grid-cols-2">
        <ScriptBlock
          testId="script-sh-oneliner"
          title="One-liner (macOS, Linux)"
          description={
            <>
              <KeyRound className="mr-1 inline size-3.5" aria-hidden />
              Contains the secret enroll key, valid until {expires}. Paste into a terminal.
            </>
          }
          script={result.scripts["sh-oneliner"]}
        />
        <ScriptBlock
          testId="script-cmd-oneliner"
          title="One-liner (Windows cmd)"
          description={
            <>
              <KeyRound className="mr-1 inline size-3.5" aria-hidden />
              Contains the secret enroll key, valid until {expires}. Paste into Command Prompt.
            </>
          }
          script={result.scripts["cmd-oneliner"]}
        />
      </div>
      <ScriptBlock
        testId="script-sh"
        title="Full script (sh)"
        description={`For macOS and Linux: sh nexmdm-enroll-${slug}.sh`}
        script={result.scripts.sh}
        filename={`nexmdm-enroll-${slug}.sh`}
        onDownload={() => download(result.scripts.sh, "sh")}
        tall
      />
      <ScriptBlock
        testId="script-cmd"
        title="Full script (Windows cmd)"
        description={`For Windows: run nexmdm-enroll-${slug}.cmd`}
        script={result.scripts.cmd}
        filename={`nexmdm-enroll-${slug}.cmd`}
        onDownload={() => download(result.scripts.cmd, "cmd")}
        tall
      />

      <Card>
        <CardHeader>
          <CardTitle className="text-base">Exit codes</CardTitle>
          <CardDescription>When a script stops, its exit code says which step failed and what to do.</CardDescription>
        </CardHeader>
        <CardContent>
          <ExitCodeTable codes={result.exit_codes} />
        </CardContent>
      </Card>
    </section>
  );
}
