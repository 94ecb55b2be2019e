package main

import (
	"context"
	"fmt"

	firebase "firebase.google.com/go/v4"
	"google.golang.org/api/option"

	"github.com/nexmdm/nexmdm/actors"
)

// newPusher builds the FCM client commands are pushed with, or nil when no
// Firebase project is configured: devices then pull commands with their
// heartbeats.
func newPusher(ctx context.Context, cfg config) (actors.Pusher, error) {
	if cfg.FCMProject == "" {
		return nil, nil
	}
	var opts []option.ClientOption
	if cfg.FCMEndpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.FCMEndpoint))
	}
	switch {
	case cfg.FCMCredentials != "":
		opts = append(opts, option.WithCredentialsFile(cfg.FCMCredentials))
	case cfg.FCMEndpoint != "":
		opts = append(opts, option.WithoutAuthentication()) // a local fake or emulator
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: cfg.FCMProject}, opts...)
	if err != nil {
		return nil, fmt.Errorf("firebase: %w", err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("firebase messaging: %w", err)
	}
	return client, nil
}
