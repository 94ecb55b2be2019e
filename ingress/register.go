package ingress

import (
	"context"
	"encoding/base64"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"
	"golang.org/x/crypto/bcrypt"

	"github.com/nexmdm/nexmdm/ingress/devicetoken"
	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

type registerRequest struct {
	Alias            string `json:"alias"`
	Serial           string `json:"serial"`
	Model            string `json:"model"`
	Manufacturer     string `json:"manufacturer"`
	AndroidVersion   string `json:"android_version"`
	SDKInt           int32  `json:"sdk_int"`
	AgentVersion     string `json:"agent_version"`
	AgentVersionCode int32  `json:"agent_version_code"`
	FCMToken         string `json:"fcm_token"`
}

type registerResponse struct {
	DeviceID           string `json:"device_id"`
	DeviceToken        string `json:"device_token"`
	HMACKeyID          string `json:"hmac_key_id"`
	HMACKey            string `json:"hmac_key"`
	HeartbeatIntervalS int64  `json:"heartbeat_interval_s"`
}

func (r *registerRequest) validate() *Error {
	r.Alias = strings.TrimSpace(r.Alias)
	r.Serial = strings.TrimSpace(r.Serial)
	if r.Alias == "" {
		return &Error{Status: fasthttp.StatusBadRequest, Code: "missing_field", Field: "alias",
			Message: "alias is required: a human name for the device"}
	}
	if r.Serial == "" {
		return &Error{Status: fasthttp.StatusBadRequest, Code: "missing_field", Field: "serial",
			Message: "serial is required: the device's hardware serial"}
	}
	if len(r.Alias) > 64 || !printable(r.Alias, true) {
		return fieldError("alias", "must be at most 64 printable characters")
	}
	if len(r.Serial) > 128 || !printable(r.Serial, false) {
		return fieldError("serial", "must be at most 128 printable characters without spaces")
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"model", r.Model, 128}, {"manufacturer", r.Manufacturer, 128},
		{"android_version", r.AndroidVersion, 32}, {"agent_version", r.AgentVersion, 64},
		{"fcm_token", r.FCMToken, 4096},
	} {
		if len(f.v) > f.max || !printable(f.v, true) {
			return fieldError(f.name, "must be at most %d printable characters", f.max)
		}
	}
	if r.SDKInt < 0 || r.SDKInt > 1000 {
		return fieldError("sdk_int", "must be an integer from 0 to 1000")
	}
	if r.AgentVersionCode < 0 {
		return fieldError("agent_version_code", "must not be negative")
	}
	return nil
}

func printable(s string, spaces bool) bool {
	for _, c := range s {
		if c == unicode.ReplacementChar || !unicode.IsPrint(c) || (!spaces && unicode.IsSpace(c)) {
			return false
		}
	}
	return true
}

// register is POST /v1/register: enroll a device, or re-enroll its serial
// (same id, new token; the old token answers 410 from then on).
func (s *Server) register(ctx *fasthttp.RequestCtx) {
	if !bodyWithin(ctx, s.cfg.MaxBodyBytes) {
		return
	}
	var req registerRequest
	if e := decodeJSON(ctx.PostBody(), &req); e != nil {
		writeError(ctx, e)
		return
	}
	if e := req.validate(); e != nil {
		writeError(ctx, e)
		return
	}

	secret, err := devicetoken.NewSecret()
	if err != nil {
		writeError(ctx, errorf(fasthttp.StatusInternalServerError, "internal", "could not create a token"))
		return
	}
	hash, err := s.hashSecret(secret)
	if err != nil {
		writeError(ctx, errorf(fasthttp.StatusInternalServerError, "internal", "could not hash the token"))
		return
	}
	digest := s.deps.Tokens.Digest([]byte(secret))
	kid := s.deps.Keys.Current()

	var enrollKey *uuid.UUID
	if p := principal(ctx); p != nil && p.Kind == "key" {
		enrollKey = &p.ID
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	enrolled, err := s.deps.Devices.Enroll(c, pgstore.Enrollment{
		NewID: uuid.New(), Serial: req.Serial, Alias: req.Alias, Model: req.Model,
		Manufacturer: req.Manufacturer, AndroidVersion: req.AndroidVersion, SDKInt: req.SDKInt,
		AgentVersion: req.AgentVersion, AgentVersionCode: req.AgentVersionCode, FCMToken: req.FCMToken,
		TokenBcrypt: hash, TokenDigest: digest[:], PepperID: s.deps.Tokens.PepperID(), HMACKeyID: kid,
		EnrollKeyID: enrollKey,
	})
	if err != nil {
		s.log.Error().Str("event", "device.register.error").Err(err).Msg("enroll device")
		writeError(ctx, &Error{Status: fasthttp.StatusServiceUnavailable, Code: "store_unavailable",
			Message: "the device could not be enrolled; retry", RetryAfter: time.Second})
		return
	}
	facts := persistence.DeviceFacts{Alias: req.Alias, Serial: req.Serial, Model: req.Model,
		AgentVersion: req.AgentVersion, EnrolledAt: enrolled.EnrolledAt, FCMToken: req.FCMToken, HMACKeyID: kid}
	s.deps.Directory.Enrolled(enrolled.ID, facts, digest[:], s.deps.Tokens.PepperID(), enrolled.RevokedDigest)
	key, err := s.deps.Keys.DeviceKey(kid, enrolled.ID)
	if err != nil {
		writeError(ctx, errorf(fasthttp.StatusInternalServerError, "internal", "could not derive the device key"))
		return
	}
	s.audit(ctx, "device.register", enrolled.ID.String(), "ok", map[string]any{
		"serial": req.Serial, "alias": req.Alias, "created": enrolled.Created,
	})
	s.log.Info().Str("event", "device.register").Stringer("device_id", enrolled.ID).
		Str("serial", req.Serial).Bool("created", enrolled.Created).Msg("device enrolled")
	writeJSON(ctx, fasthttp.StatusCreated, registerResponse{
		DeviceID:           enrolled.ID.String(),
		DeviceToken:        devicetoken.Format(enrolled.ID, secret),
		HMACKeyID:          kid,
		HMACKey:            base64.StdEncoding.EncodeToString(key),
		HeartbeatIntervalS: int64(s.cfg.HeartbeatInterval / time.Second),
	})
}

// hashSecret bcrypts a new token secret for storage at rest. It is slow by
// design, so only a few run at once and heartbeats keep their CPU.
func (s *Server) hashSecret(secret string) (string, error) {
	s.bcrypt <- struct{}{}
	defer func() { <-s.bcrypt }()
	h, err := bcrypt.GenerateFromPassword([]byte(secret), s.cfg.BcryptCost)
	return string(h), err
}
