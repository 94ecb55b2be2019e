package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/nexmdm/nexmdm/ingress"
	"github.com/nexmdm/nexmdm/ingress/adminauth"
	"github.com/nexmdm/nexmdm/persistence/pgstore"
)

// bootstrapAdmin creates a first admin, named admin, when there are no
// users, and prints its password once: the only time it is shown.
func (a *app) bootstrapAdmin(ctx context.Context, stdout io.Writer) error {
	users := pgstore.NewUsers(a.pool)
	n, err := users.Count(ctx)
	if err != nil || n > 0 {
		return err
	}
	pw := adminauth.NewPassword()
	u, e := ingress.NewUser("admin", pw, adminauth.RoleAdmin, "bootstrap", a.cfg.BcryptCost, time.Now())
	if e != nil {
		return errors.New(e.Message)
	}
	if err := users.Create(ctx, u); err != nil {
		if errors.Is(err, pgstore.ErrExists) { // another instance won the race
			return nil
		}
		return err
	}
	a.log.Info().Str("event", "bootstrap.admin").Str("username", "admin").Msg("first admin created; its password was printed on stdout")
	fmt.Fprintf(stdout, "First admin created. Log in as admin with password %s\n(shown once: keep it, or add users with `nexmdm user add`)\n", pw)
	return nil
}

// userCommand is `nexmdm user add --username U --role R [--password-stdin]`.
func userCommand(ctx context.Context, cfg config, log zerolog.Logger, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return errors.New("usage: nexmdm user add --username NAME --role admin|operator|viewer [--password-stdin]")
	}
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	username := fs.String("username", "", "login name (a-z, 0-9, '.', '_', '-')")
	role := fs.String("role", adminauth.RoleViewer, "admin, operator or viewer")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin (else one is generated and printed)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	pw := adminauth.NewPassword()
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	pool, err := pgstore.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pgstore.CheckSchema(ctx, pool); err != nil {
		return err
	}
	u, e := ingress.NewUser(*username, pw, *role, "cli", cfg.BcryptCost, time.Now())
	if e != nil {
		return errors.New(e.Message)
	}
	if err := pgstore.NewUsers(pool).Create(ctx, u); err != nil {
		if errors.Is(err, pgstore.ErrExists) {
			return fmt.Errorf("a user named %s exists", u.Username)
		}
		return err
	}
	log.Info().Str("event", "user.create").Str("username", u.Username).Str("role", u.Role).Msg("user created")
	if *fromStdin {
		fmt.Fprintf(stdout, "created %s (%s)\n", u.Username, u.Role)
	} else {
		fmt.Fprintf(stdout, "created %s (%s) with password %s\n", u.Username, u.Role, pw)
	}
	return nil
}
