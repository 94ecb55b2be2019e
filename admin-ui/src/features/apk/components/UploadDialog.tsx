import { useId, useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Loader2 } from "lucide-react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { FormField, invalidProps } from "@/components/ui/form-field";
import { Input } from "@/components/ui/input";
import { Progress } from "@/components/ui/progress";
import { ApiError, isApiError } from "@/lib/api";
import { apkKeys, registerBuild, uploadBuildFile } from "../api";
import { formatBytes, toRegisterRequest, uploadFormSchema, type Build, type UploadForm } from "../schema";
import { sha256Hex } from "../sha256";

const MAX_HINT = "At most 60 MiB unless the server allows more (NEXMDM_APK_MAX_BYTES).";
const emptyForm: UploadForm = {
  package: "",
  version_code: "",
  version_name: "",
  channel: "stable",
  signer_fingerprint: "",
  git_sha: "",
  ci_run_url: "",
};

type Step = { label: string; progress?: number } | null;

/**
 * Register a build, then upload its file: the browser hashes the file (the
 * server checks it against the registered SHA-256), registers the metadata
 * the operator types, and sends the file. With `resume`, a build that was
 * registered but never got its file: only the file is asked for.
 */
export function UploadDialog({
  open,
  onOpenChange,
  resume,
}: {
  open: boolean;
  onOpenChange: (o: boolean) => void;
  resume?: Build | null;
}) {
  const qc = useQueryClient();
  const [form, setForm] = useState<UploadForm>(emptyForm);
  const [file, setFile] = useState<File | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [step, setStep] = useState<Step>(null);
  // Registered here but the upload failed: a retry sends only the file.
  const [registered, setRegistered] = useState<Build | null>(null);
  const base = useId();
  const id = (k: string) => `${base}-${k}`;

  const finish = () => {
    setForm(emptyForm);
    setFile(null);
    setErrors({});
    setStep(null);
    setRegistered(null);
    upload.reset();
    onOpenChange(false);
  };
  // Closing by hand waits for a running upload.
  const close = (o: boolean) => {
    if (o) onOpenChange(true);
    else if (!upload.isPending) finish();
  };

  const upload = useMutation({
    meta: { errorTitle: "Upload failed" },
    mutationFn: async ({ f, file }: { f: UploadForm; file: File }) => {
      setStep({ label: "Computing SHA-256", progress: 0 });
      const sha = await sha256Hex(file, (p) => setStep({ label: "Computing SHA-256", progress: p * 100 }));
      let build = resume ?? (registered?.sha256 === sha ? registered : null);
      if (build) {
        if (build.sha256 !== sha) {
          throw new ApiError(
            400,
            "sha256_mismatch",
            `This file's SHA-256 is ${sha}, but the build was registered with ${build.sha256}. Choose the file that was registered.`,
            "file",
          );
        }
      } else {
        setStep({ label: "Registering the build" });
        build = await registerBuild(toRegisterRequest(f, sha));
        setRegistered(build);
        void qc.invalidateQueries({ queryKey: apkKeys.all });
      }
      setStep({ label: `Uploading ${formatBytes(file.size)}` });
      return uploadBuildFile(build.id, file);
    },
    onSuccess: (b) => {
      toast.success(`Uploaded ${b.package} ${b.version_name || b.version_code}`);
      void qc.invalidateQueries({ queryKey: apkKeys.all });
      finish();
    },
    onError: (e) => {
      setStep(null);
      if (isApiError(e) && e.field) setErrors({ [e.field]: e.message });
      else if (isApiError(e) && ["sha256_mismatch", "not_an_apk", "apk_too_large"].includes(e.code))
        setErrors({ file: e.message });
    },
  });

  const submit = (ev: React.FormEvent) => {
    ev.preventDefault();
    const errs: Record<string, string> = {};
    if (!file) errs.file = "Choose the APK file";
    let f = form;
    if (!resume) {
      const parsed = uploadFormSchema.safeParse(form);
      if (!parsed.success) for (const i of parsed.error.issues) errs[String(i.path[0])] ??= i.message;
      else f = parsed.data;
    }
    setErrors(errs);
    if (Object.keys(errs).length > 0 || !file) return;
    upload.mutate({ f, file });
  };

  const text = (k: keyof UploadForm, label: string, hint?: string, props: React.ComponentProps<"input"> = {}) => (
    <FormField id={id(k)} label={label} error={errors[k]} hint={hint}>
      <Input
        id={id(k)}
        value={form[k]}
        onChange={(e) => setForm({ ...form, [k]: e.target.value })}
        autoComplete="off"
        spellCheck={false}
        disabled={upload.isPending}
        {...invalidProps(id(k), errors[k])}
        {...props}
      />
    </FormField>
  );

  return (
    <Dialog open={open} onOpenChange={close}>
      <DialogContent className="max-w-2xl">
        <DialogHeader>
          <DialogTitle>{resume ? `Upload the file for ${resume.package} ${resume.version_code}` : "Upload a build"}</DialogTitle>
          <DialogDescription>
            {resume
              ? "The build is registered; its file never arrived. Choose the same APK to finish."
              : "Describe the APK as it was built; the file is checked against its SHA-256 and must be a real APK."}
          </DialogDescription>
        </DialogHeader>
        <form className="space-y-4" onSubmit={submit} noValidate>
          <FormField id={id("file")} label="APK file" error={errors.file} hint={MAX_HINT}>
            <Input
              id={id("file")}
              type="file"
              accept=".apk,application/vnd.android.package-archive"
              disabled={upload.isPending}
              onChange={(e) => {
                setFile(e.target.files?.[0] ?? null);
                setErrors(({ file: _, ...rest }) => rest);
              }}
              {...invalidProps(id("file"), errors.file)}
            />
          </FormField>
          {!resume && (
            <div className="grid gap-4 sm:grid-cols-2">
              {text("package", "Package", "Android package name, as in the manifest.", { placeholder: "com.nexmdm.agent" })}
              {text("version_code", "Version code", "The manifest's versionCode.", { inputMode: "numeric" })}
              {text("version_name", "Version name", "Optional, such as 1.4.2.")}
              {text("channel", "Channel", "Releases and updates go by channel.")}
              {text("signer_fingerprint", "Signer fingerprint", "Optional: the signing certificate's SHA-256.")}
              {text("git_sha", "Git commit", "Optional.")}
              <div className="sm:col-span-2">{text("ci_run_url", "CI run URL", "Optional.", { type: "url" })}</div>
            </div>
          )}
          {step && (
            <div className="space-y-1" role="status" aria-live="polite">
              <p className="text-sm">{step.label}…</p>
              {step.progress !== undefined && <Progress value={step.progress} label={step.label} />}
            </div>
          )}
          <DialogFooter>
            <Button type="button" variant="outline" onClick={() => close(false)} disabled={upload.isPending}>
              Cancel
            </Button>
            <Button type="submit" disabled={upload.isPending}>
              {upload.isPending && <Loader2 className="animate-spin" aria-hidden />}
              Upload
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}
