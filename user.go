package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"keel/app"
	"keel/auth"
	"keel/config"
	"keel/store"
)

// userCommand runs `keel user create`, which makes the first admin and
// any staff user from the command line. The audit log records the
// command line as the actor.
func userCommand(ctx context.Context, cfg config.Config, logger *slog.Logger, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("user: the only subcommand is create; see keel help")
	}

	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", "", "email address (required)")
	role := fs.String("role", "", "role (required)")
	name := fs.String("name", "", "display name (default: the part of the email before @)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	if err := fs.Parse(args[1:]); errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, usage)
		return nil
	} else if err != nil {
		return fmt.Errorf("user create: %w", err)
	}

	if *email == "" || !strings.Contains(*email, "@") {
		return errors.New("user create: --email must be an email address")
	}
	if !auth.Role(*role).Valid() {
		return fmt.Errorf("user create: --role must be one of %s", rolesList())
	}
	if *name == "" {
		*name, _, _ = strings.Cut(*email, "@")
	}

	password := auth.RandomToken()[:24]
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("user create: read password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if err := auth.ValidatePassword(password, *email); err != nil {
		return fmt.Errorf("user create: %w", err)
	}

	hasher, err := auth.NewHasher(cfg.Argon2Memory, cfg.Argon2Iterations)
	if err != nil {
		return err
	}
	hash, err := hasher.Hash(password)
	if err != nil {
		return err
	}

	return withApp(ctx, cfg, logger, app.Options{Offline: true}, func(a *app.App) error {
		u, err := a.Store.UserCreate(ctx, store.Actor{Email: "keel user create"}, store.NewUser{
			Email: *email, Name: *name, Role: *role, PasswordHash: hash,
		})
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("user create: a user with email %s exists", *email)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s %s (id %d)\n", u.Role, u.Email, u.ID)
		if !*fromStdin {
			fmt.Fprintf(stdout, "password: %s\n(shown once; change it after signing in)\n", password)
		}
		return nil
	})
}

func rolesList() string {
	names := make([]string, len(auth.Roles))
	for i, r := range auth.Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}
