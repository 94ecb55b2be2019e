// Package ota updates the agent: it asks the server for an offer, waits
// for the offer's conditions (Wi-Fi, battery, no call), downloads with
// resume, verifies the SHA-256 and, where apksigner exists, the signer, then
// installs through the platform and reports each step to the server.
package ota

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nexmdm/nexmdm/agent/client"
)

// Platform installs a verified file.
type Platform interface {
	// VerifySigner checks the file's signing certificate against the
	// offer's fingerprint. It returns ErrSignerUnchecked when the platform
	// has no way to check (no apksigner, or a Linux binary).
	VerifySigner(ctx context.Context, path, fingerprint string) error
	Install(ctx context.Context, path string) error
}

// ErrSignerUnchecked says the signer could not be checked here; the
// SHA-256 from the authenticated offer still binds the file.
var ErrSignerUnchecked = errors.New("signer not checked: no verifier on this device")

// Device is the state the offer's conditions are checked against.
type Device struct {
	OnWifi     bool
	BatteryPct *int
	Charging   bool
	InCall     bool
}

// Updater checks for and installs updates.
type Updater struct {
	Client   *client.Client
	BaseURL  string       // where offer URLs that are paths are resolved
	HTTP     *http.Client // for the download
	Token    func() string
	Channel  string // the release channel this device follows
	Dir      string // downloads live here, resumable across restarts
	Platform Platform
	Device   func(ctx context.Context) Device
	Now      func() time.Time
	Log      *slog.Logger
	// Installed runs after an install succeeds: on Linux, the agent
	// restarts into its new binary.
	Installed func(offer *client.UpdateOffer)

	offered map[string]bool // releases already reported offered
}

// Outcome is how one check ended.
type Outcome int

const (
	NothingToDo Outcome = iota
	Deferred            // conditions not met: check again soon
	Installed
	Failed
)

// Check runs one pass: ask, check the conditions, download, verify,
// install. Every step past the offer is reported to the server.
func (u *Updater) Check(ctx context.Context) (Outcome, error) {
	offer, err := u.Client.CheckUpdate(ctx, u.Token(), u.Channel)
	if err != nil {
		return Failed, fmt.Errorf("check for an update: %w", err)
	}
	if offer == nil {
		return NothingToDo, nil
	}
	if !u.offered[offer.ReleaseID] {
		if u.offered == nil {
			u.offered = map[string]bool{}
		}
		u.offered[offer.ReleaseID] = true
		u.report(ctx, offer, client.UpdateOffered, "")
	}
	if why := unmet(offer, u.Device(ctx)); why != "" {
		u.report(ctx, offer, client.UpdateDeferred, why)
		return Deferred, nil
	}
	path, err := u.fetch(ctx, offer, func(event string) { u.report(ctx, offer, event, "") })
	if err != nil {
		u.report(ctx, offer, client.UpdateFailed, err.Error())
		return Failed, err
	}
	u.report(ctx, offer, client.UpdateInstalling, "")
	if err := u.Platform.Install(ctx, path); err != nil {
		u.report(ctx, offer, client.UpdateFailed, "install: "+err.Error())
		return Failed, fmt.Errorf("install version %d: %w", offer.VersionCode, err)
	}
	os.Remove(path)
	u.report(ctx, offer, client.UpdateInstalled, "")
	if u.Installed != nil {
		u.Installed(offer)
	}
	return Installed, nil
}

// unmet says which condition of the offer the device does not meet now.
func unmet(o *client.UpdateOffer, d Device) string {
	switch {
	case o.WifiOnly && !d.OnWifi:
		return "waiting for Wi-Fi"
	case o.MinBatteryPct > 0 && !d.Charging && (d.BatteryPct == nil || *d.BatteryPct < o.MinBatteryPct):
		return fmt.Sprintf("waiting for %d%% battery or a charger", o.MinBatteryPct)
	case o.NotInCall && d.InCall:
		return "waiting for the call to end"
	}
	return ""
}

// InstallFile downloads, verifies and installs one file outside any
// release: the install_apk command, whose signed parameters carry the URL
// and the SHA-256.
func (u *Updater) InstallFile(ctx context.Context, url, sha256 string, size int64) error {
	o := &client.UpdateOffer{URL: url, SHA256: sha256, Size: size}
	path, err := u.fetch(ctx, o, func(string) {})
	if err != nil {
		return err
	}
	defer os.Remove(path)
	return u.Platform.Install(ctx, path)
}

// fetch downloads and verifies the offer's file, resuming a partial
// download of the same file; step is told each step reached.
func (u *Updater) fetch(ctx context.Context, o *client.UpdateOffer, step func(event string)) (string, error) {
	want := strings.ToLower(o.SHA256)
	if len(want) != 64 {
		return "", fmt.Errorf("the offer's sha256 %q is not a SHA-256", o.SHA256)
	}
	if err := os.MkdirAll(u.Dir, 0o700); err != nil {
		return "", err
	}
	part := filepath.Join(u.Dir, want+".part")
	step(client.UpdateDownloading)
	if err := u.download(ctx, o, part); err != nil {
		return "", err
	}
	got, err := fileSHA256(part)
	if err != nil {
		return "", err
	}
	if got != want {
		os.Remove(part) // a corrupt file must not be resumed
		return "", fmt.Errorf("downloaded file has SHA-256 %s, the offer says %s", got, want)
	}
	step(client.UpdateDownloaded)
	if o.SignerFingerprint != "" {
		switch err := u.Platform.VerifySigner(ctx, part, o.SignerFingerprint); {
		case errors.Is(err, ErrSignerUnchecked):
			u.Log.Info("ota.signer", "checked", false, "reason", err.Error())
		case err != nil:
			os.Remove(part)
			return "", fmt.Errorf("signer: %w", err)
		}
	}
	step(client.UpdateVerified)
	return part, nil
}

// download appends to part from where it stopped, with a Range request.
func (u *Updater) download(ctx context.Context, o *client.UpdateOffer, part string) error {
	f, err := os.OpenFile(part, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if o.Size > 0 && have >= o.Size {
		return nil
	}
	url := o.URL
	if strings.HasPrefix(url, "/") {
		url = strings.TrimRight(u.BaseURL, "/") + url
	}
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+u.Token())
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := u.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusOK: // the server ignored the range: start over
		if err := f.Truncate(0); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	default:
		return fmt.Errorf("download: server answered %d", resp.StatusCode)
	}
	limit := int64(1 << 30)
	if o.Size > 0 {
		limit = o.Size
	}
	if _, err := io.Copy(f, io.LimitReader(resp.Body, limit)); err != nil {
		return fmt.Errorf("download interrupted (it resumes next time): %w", err)
	}
	return f.Sync()
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// report tells the server a step. It is best effort: the next check
// reports again, and the heartbeat's agent_version_code is the truth.
func (u *Updater) report(ctx context.Context, o *client.UpdateOffer, event, msg string) {
	u.Log.Info("ota."+event, "release", o.ReleaseID, "version_code", o.VersionCode, "message", msg)
	err := u.Client.UpdateEvent(ctx, u.Token(), &client.UpdateEvent{
		ReleaseID: o.ReleaseID, VersionCode: o.VersionCode, Event: event, Message: msg, At: u.Now()})
	if err != nil {
		u.Log.Warn("deliver.fail", "kind", "update_event", "event", event, "err", err.Error())
	}
}
