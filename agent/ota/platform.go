package ota

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Android installs APKs with pm and checks signers with apksigner when the
// device has it.
type Android struct {
	Run func(ctx context.Context, name string, args ...string) ([]byte, error)
}

var signerDigest = regexp.MustCompile(`(?m)^Signer #1 certificate SHA-256 digest: ([0-9a-fA-F:]+)\s*$`)

// VerifySigner implements Platform with `apksigner verify --print-certs`.
func (a Android) VerifySigner(ctx context.Context, path, fingerprint string) error {
	if _, err := exec.LookPath("apksigner"); err != nil {
		return ErrSignerUnchecked
	}
	out, err := a.Run(ctx, "apksigner", "verify", "--print-certs", path)
	if err != nil {
		return fmt.Errorf("apksigner refused the file: %w", err)
	}
	return matchSigner(out, fingerprint)
}

func matchSigner(apksignerOut []byte, fingerprint string) error {
	m := signerDigest.FindSubmatch(apksignerOut)
	if m == nil {
		return fmt.Errorf("apksigner printed no signer digest")
	}
	if normalize(string(m[1])) != normalize(fingerprint) {
		return fmt.Errorf("signed by %s, the offer expects %s", m[1], fingerprint)
	}
	return nil
}

func normalize(fp string) string { return strings.ToLower(strings.ReplaceAll(fp, ":", "")) }

// Install implements Platform with `pm install -r`.
func (a Android) Install(ctx context.Context, path string) error {
	out, err := a.Run(ctx, "pm", "install", "-r", path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(out), "Success") {
		return fmt.Errorf("pm install: %s", strings.TrimSpace(string(out)))
	}
	return nil
}

// Linux replaces the agent's own binary; the caller restarts into it.
type Linux struct {
	Executable string // the running binary, from os.Executable
}

// VerifySigner implements Platform: a binary has no APK signer.
func (Linux) VerifySigner(context.Context, string, string) error { return ErrSignerUnchecked }

// Install copies the file beside the binary and renames it over it, so a
// crash leaves either the old binary or the new one, never half of one.
func (l Linux) Install(_ context.Context, path string) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(l.Executable), ".nexmdm-agent-new-*")
	if err != nil {
		return fmt.Errorf("the agent's directory is not writable: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), l.Executable)
}
