package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/nexmdm/nexmdm/actors/signing"
	"github.com/nexmdm/nexmdm/ingress/adminauth"
	"github.com/nexmdm/nexmdm/persistence"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

const (
	defaultCommandTTL = 10 * time.Minute
	minCommandTTL     = 5 * time.Second
	maxCommandTTL     = 24 * time.Hour
)

type commandRequest struct {
	Type   string          `json:"type"`
	Params json.RawMessage `json:"params"`
	TTLS   *int64          `json:"ttl_s"`
}

// commandJSON is a command as the admin API shows it.
type commandJSON struct {
	ID        string                 `json:"id"`
	DeviceID  string                 `json:"device_id"`
	Type      string                 `json:"type"`
	Params    json.RawMessage        `json:"params"`
	Status    string                 `json:"status"`
	IssuedAt  time.Time              `json:"issued_at"`
	ExpiresAt time.Time              `json:"expires_at"`
	CreatedBy string                 `json:"created_by"`
	UpdatedAt time.Time              `json:"updated_at"`
	Result    *commandResultJSON     `json:"result"`
	Events    []pgstore.CommandEvent `json:"events,omitempty"`
}

type commandResultJSON struct {
	Message    string     `json:"message"`
	Output     string     `json:"output"`
	FinishedAt *time.Time `json:"finished_at"`
}

func toCommandJSON(r *pgstore.CommandRecord) commandJSON {
	out := commandJSON{
		ID: r.ID.String(), DeviceID: r.DeviceID.String(), Type: r.Type, Params: json.RawMessage(r.ParamsJSON),
		Status: r.Status, IssuedAt: r.IssuedAt, ExpiresAt: r.ExpiresAt, CreatedBy: r.CreatedBy,
		UpdatedAt: r.UpdatedAt, Events: r.Events,
	}
	if r.Status == persistence.CommandSucceeded || r.Status == persistence.CommandFailed {
		out.Result = &commandResultJSON{Message: r.ResultMessage, Output: r.ResultOutput, FinishedAt: r.FinishedAt}
	}
	return out
}

// checkCommand validates a command request for the caller and returns its
// canonical parameters and TTL.
func (s *Server) checkCommand(p *adminauth.Principal, req *commandRequest) (string, time.Duration, *Error) {
	spec, ok := commandCatalogue[req.Type]
	switch {
	case req.Type == "":
		return "", 0, &Error{Status: fasthttp.StatusBadRequest, Code: "missing_field", Field: "type",
			Message: "type is required: one of " + commandTypes()}
	case !ok:
		return "", 0, fieldError("type", "must be one of %s", commandTypes())
	case spec.gated && !s.cfg.AllowShell:
		return "", 0, errorf(fasthttp.StatusForbidden, "shell_disabled",
			"shell commands are off on this server; an operator can enable them with NEXMDM_ALLOW_SHELL=1")
	case spec.adminOnly && !p.Can(adminauth.Manage):
		return "", 0, errorf(fasthttp.StatusForbidden, "forbidden", "%s commands need the admin role", req.Type)
	}
	ttl := defaultCommandTTL
	if req.TTLS != nil {
		ttl = time.Duration(*req.TTLS) * time.Second
		if ttl < minCommandTTL || ttl > maxCommandTTL {
			return "", 0, fieldError("ttl_s", "must be from %d to %d seconds", int(minCommandTTL/time.Second), int(maxCommandTTL/time.Second))
		}
	}
	params, e := canonicalParams(req.Type, req.Params)
	if e == nil && req.Type == "install_apk" {
		params, e = s.installParams(params)
	}
	return params, ttl, e
}

// installParams adds to install_apk's build_id what the device needs to
// fetch and check the file, so that the signature covers the SHA-256.
func (s *Server) installParams(params string) (string, *Error) {
	var p struct {
		BuildID uuid.UUID `json:"build_id"`
	}
	if err := json.Unmarshal([]byte(params), &p); err != nil {
		return "", fieldError("params", "must carry build_id")
	}
	c, cancel := dbContext()
	defer cancel()
	f, err := s.deps.Releases.UploadedBuild(c, p.BuildID)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		return "", fieldError("params.build_id", "must be a build whose file is uploaded to the APK registry")
	case err != nil:
		return "", storeUnavailable()
	}
	out, _ := json.Marshal(map[string]any{"build_id": p.BuildID, "package": f.Package, "version_code": f.VersionCode,
		"sha256": f.SHA256, "size": f.Size, "url": "/v1/agent/download/" + p.BuildID.String()})
	return string(out), nil
}

// createCommand is POST /admin/devices/{id}/commands: sign a command for
// the device, store it queued, and hand it to the device's actor.
func (s *Server) createCommand(ctx *fasthttp.RequestCtx) {
	id, _, e := s.pathDevice(ctx)
	if e != nil {
		writeError(ctx, e)
		return
	}
	var req commandRequest
	if e := decodeJSON(ctx.PostBody(), &req); e != nil {
		writeError(ctx, e)
		return
	}
	p := principal(ctx)
	params, ttl, e := s.checkCommand(p, &req)
	if e != nil {
		s.audit(ctx, "command.create", id.String(), e.Code, map[string]any{"type": req.Type})
		writeError(ctx, e)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	info, err := s.deps.Devices.Info(c, id)
	if err != nil {
		writeError(ctx, lookupError(err, "device", id))
		return
	}
	now := s.now()
	cmd, err := s.signCommand(id, info.HMACKeyID, req.Type, params, now, ttl)
	if err != nil {
		writeError(ctx, errorf(fasthttp.StatusInternalServerError, "internal", "the device's signing key is not available"))
		return
	}
	stored, err := s.deps.Commands.Create(c, []persistence.Command{cmd}, p.Actor(), now)
	if err != nil {
		s.log.Error().Str("event", "command.create.error").Err(err).Msg("store command")
		writeError(ctx, storeUnavailable())
		return
	}
	if len(stored) == 0 { // deleted since Info read it
		writeError(ctx, lookupError(persistence.ErrNotFound, "device", id))
		return
	}
	s.deps.Directory.QueueCommands([]persistence.Command{cmd})
	s.publishQueued([]persistence.Command{cmd}, now)
	s.audit(ctx, "command.create", cmd.ID.String(), "ok", map[string]any{
		"device_id": id, "type": req.Type, "params": json.RawMessage(params), "ttl_s": int64(ttl / time.Second),
	})
	rec := pgstore.CommandRecord{Command: cmd, CreatedBy: p.Actor(), UpdatedAt: now}
	writeJSON(ctx, fasthttp.StatusCreated, toCommandJSON(&rec))
}

// errSigningKey is a device whose signing key is not available.
var errSigningKey = errors.New("a device's signing key is not available")

// queueCommands signs one command per device with the device's key,
// stores them all with one COPY and hands them to the actors, which push
// and deliver them. Devices deleted meanwhile are skipped.
func (s *Server) queueCommands(c context.Context, ids []uuid.UUID, typ, params string, ttl time.Duration, actor string, now time.Time) ([]persistence.Command, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	kids, err := s.deps.Commands.KeyIDs(c, ids)
	if err != nil {
		return nil, err
	}
	cmds := make([]persistence.Command, 0, len(kids))
	for _, id := range ids {
		kid, ok := kids[id]
		if !ok {
			continue // deleted since it was listed
		}
		cmd, err := s.signCommand(id, kid, typ, params, now, ttl)
		if err != nil {
			return nil, fmt.Errorf("%w: device %s: %v", errSigningKey, id, err)
		}
		cmds = append(cmds, cmd)
	}
	stored, err := s.deps.Commands.Create(c, cmds, actor, now)
	if err != nil {
		s.log.Error().Str("event", "command.bulk.error").Int("commands", len(cmds)).Err(err).Msg("store commands")
		return nil, err
	}
	cmds = stored
	s.deps.Directory.QueueCommands(cmds)
	s.publishQueued(cmds, now)
	return cmds, nil
}

// publishQueued tells the live feed about new commands; later transitions
// are told by the actors' command log and the results endpoint.
// Without a dashboard listening, a bulk's 10,000 payloads would be built
// only to be dropped: garbage that brought a collection into the request.
func (s *Server) publishQueued(cmds []persistence.Command, at time.Time) {
	if !s.hub.Listening() {
		return
	}
	const typ = "command." + persistence.CommandQueued
	for _, c := range cmds {
		s.hub.Publish(typ, c.DeviceID,
			map[string]any{"command_id": c.ID, "status": persistence.CommandQueued, "type": c.Type, "at": at})
	}
}

// signCommand builds a queued command signed with the device's key.
func (s *Server) signCommand(device uuid.UUID, kid, typ, params string, now time.Time, ttl time.Duration) (persistence.Command, error) {
	key, err := s.deps.Keys.DeviceKey(kid, device)
	if err != nil {
		return persistence.Command{}, err
	}
	issued := now.Truncate(time.Second)
	cmd := persistence.Command{
		ID: uuid.New(), DeviceID: device, Type: typ, ParamsJSON: params,
		IssuedAt: issued, ExpiresAt: issued.Add(ttl), KeyID: kid, Status: persistence.CommandQueued,
	}
	cmd.Sig = signing.Signature(key, cmd.ID.String(), device.String(), typ, issued.Unix(), params)
	return cmd, nil
}

// getCommand is GET /admin/commands/{id}: the command, its result and
// every transition.
func (s *Server) getCommand(ctx *fasthttp.RequestCtx) {
	id, e := pathID(ctx, "command")
	if e != nil {
		writeError(ctx, e)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	rec, err := s.deps.Commands.Get(c, id)
	if err != nil {
		writeError(ctx, lookupError(err, "command", id))
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, toCommandJSON(&rec))
}

// listCommands is GET /admin/commands?device_id&status&type&limit&cursor,
// newest first.
func (s *Server) listCommands(ctx *fasthttp.RequestCtx) {
	q := newQuery(ctx)
	cq := pgstore.CommandQuery{
		Status: q.Enum("status", persistence.CommandQueued, persistence.CommandSent, persistence.CommandDelivered,
			persistence.CommandSucceeded, persistence.CommandFailed, persistence.CommandExpired),
		Type:  q.Text("type", 64),
		Limit: q.Int("limit", 1, 500, 50),
	}
	if v := q.args.Peek("device_id"); len(v) > 0 {
		id, err := uuid.ParseBytes(v)
		if err != nil {
			q.fail(fieldError("device_id", "must be a device id (a UUID)"))
		}
		cq.DeviceID = id
	}
	if v := q.args.Peek("cursor"); len(v) > 0 && q.err == nil {
		payload, e := s.openCursor("commands", string(v))
		var cur pgstore.CommandCursor
		if e == nil && json.Unmarshal([]byte(payload), &cur) != nil {
			e = errorf(fasthttp.StatusBadRequest, "invalid_cursor", "the cursor is not valid; start from the first page")
		}
		q.fail(e)
		cq.Before = &cur
	}
	if q.err != nil {
		writeError(ctx, q.err)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	recs, err := s.deps.Commands.List(c, cq)
	if err != nil {
		writeError(ctx, storeUnavailable())
		return
	}
	out := struct {
		Commands   []commandJSON `json:"commands"`
		NextCursor *string       `json:"next_cursor"`
	}{Commands: make([]commandJSON, len(recs))}
	for i := range recs {
		out.Commands[i] = toCommandJSON(&recs[i])
	}
	if len(recs) == cq.Limit {
		last := recs[len(recs)-1]
		b, _ := json.Marshal(pgstore.CommandCursor{IssuedAt: last.IssuedAt, ID: last.ID})
		cur := s.sealCursor("commands", string(b))
		out.NextCursor = &cur
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}

// bulkCommand is POST /admin/commands/bulk: one command for many devices,
// by ids or a filter. Each device gets its own signed command; they are
// stored in one transaction and handed to the actors without waiting for
// them, so that 10,000 targets do not hold up ingest.
func (s *Server) bulkCommand(ctx *fasthttp.RequestCtx) {
	var req struct {
		bulkTargets
		commandRequest
	}
	if e := decodeJSON(ctx.PostBody(), &req); e != nil {
		writeError(ctx, e)
		return
	}
	p := principal(ctx)
	params, ttl, e := s.checkCommand(p, &req.commandRequest)
	var ids []uuid.UUID
	if e == nil {
		ids, e = s.resolveTargets(&req.bulkTargets, maxBulkTargets)
	}
	details := map[string]any{"type": req.Type, "filter": req.Filter, "targets": len(ids)}
	if params != "" { // checked and canonical: the audit shows what was sent
		details["params"] = json.RawMessage(params)
	}
	if e != nil {
		s.audit(ctx, "command.bulk_create", "", e.Code, details)
		writeError(ctx, e)
		return
	}
	c, cancel := dbContext()
	defer cancel()
	cmds, err := s.queueCommands(c, ids, req.Type, params, ttl, p.Actor(), s.now())
	switch {
	case errors.Is(err, errSigningKey):
		writeError(ctx, errorf(fasthttp.StatusInternalServerError, "internal", "a device's signing key is not available"))
		return
	case err != nil:
		writeError(ctx, storeUnavailable())
		return
	}
	out := make([]string, len(cmds))
	for i, cmd := range cmds {
		out[i] = cmd.ID.String()
	}
	details["queued"] = len(cmds)
	s.audit(ctx, "command.bulk_create", "", "ok", details)
	writeJSON(ctx, fasthttp.StatusCreated, map[string]any{"queued": len(cmds), "command_ids": out})
}
